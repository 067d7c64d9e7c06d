"""What a shopper's photo must be before Kefu keeps it.

A file from outside is hostile until proved otherwise: its name and
declared type say nothing, so Pillow reads the bytes themselves; only
still images in the formats every desk browser shows are kept; a
decompression bomb is refused before it is decoded. The kept file is a new
encoding of the pixels, so nothing else of the original survives: no EXIF
(GPS position, camera serial, the shopper's name), no comments, no trailing
data. The picture is turned upright first, since its EXIF orientation goes.
"""
from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

#: Pillow format -> (stored format, content type, file extension)
KEPT = {
    "JPEG": ("JPEG", "image/jpeg", "jpg"),
    "PNG": ("PNG", "image/png", "png"),
    "WEBP": ("WEBP", "image/webp", "webp"),
    "GIF": ("PNG", "image/png", "png"),  # the first frame: evidence is a still
}
#: what a phone camera makes, with room; more is a bomb, not a photo
MAX_PIXELS = 50_000_000
THUMBNAIL_SIZE = (320, 320)


class Refused(Exception):
    """Not kept; ``reason`` names the polite answer (``utter_photo_<reason>``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    sha256: str
    thumbnail: bytes  # JPEG, at most THUMBNAIL_SIZE


def clean(data: bytes, max_bytes: int) -> CleanImage:
    """The photo in ``data`` re-encoded without metadata, or :class:`Refused`
    (``too_big``, ``not_image``)."""
    if len(data) > max_bytes:
        raise Refused("too_big")
    kind = _format(data)
    stored_as, content_type, extension = KEPT[kind]
    with Image.open(io.BytesIO(data)) as original:
        original.seek(0)
        upright = ImageOps.exif_transpose(original)
        pixels = _plain(upright, stored_as)
    body = _encode(pixels, stored_as)
    if len(body) > max_bytes:  # a PNG of a noisy photo can outgrow its JPEG
        raise Refused("too_big")
    thumb = pixels.convert("RGB")
    thumb.thumbnail(THUMBNAIL_SIZE)
    return CleanImage(data=body, content_type=content_type, extension=extension, width=pixels.width,
                      height=pixels.height, sha256=hashlib.sha256(body).hexdigest(), thumbnail=_encode(thumb, "JPEG"))


def _format(data: bytes) -> str:
    """The image format of ``data`` as Pillow reads it, after a structural
    check; :class:`Refused` for anything not kept."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format or ""
                if probe.width * probe.height > MAX_PIXELS:
                    raise Refused("too_big")
                probe.verify()
        except Refused:
            raise
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise Refused("not_image") from None
        except Exception:  # truncated, corrupt: Pillow raises many kinds
            raise Refused("not_image") from None
    if kind not in KEPT:
        raise Refused("not_image")
    return kind


def _plain(image: Image.Image, stored_as: str) -> Image.Image:
    """A fresh image of the same pixels: no ``info`` (EXIF, ICC, comments)
    travels with it."""
    wanted = "RGB" if stored_as == "JPEG" else ("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")
    if image.mode == "L" and stored_as != "WEBP":
        wanted = "L"
    converted = image.convert(wanted)
    fresh = Image.new(converted.mode, converted.size)
    fresh.paste(converted)
    return fresh


def _encode(image: Image.Image, stored_as: str) -> bytes:
    out = io.BytesIO()
    options = {"quality": 88, "optimize": True} if stored_as in ("JPEG", "WEBP") else {"optimize": True}
    image.save(out, format=stored_as, **options)
    return out.getvalue()
