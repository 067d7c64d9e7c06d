"""What is kept of a shopper's photo, with real image files made by Pillow:
the pixels upright and re-encoded, nothing else of the original (no EXIF
position or camera, no trailing data), and polite refusals for everything
that is not a still photo of a sane size."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from kefu.evidence.images import MAX_PIXELS, THUMBNAIL_SIZE, Refused, clean

GPS_IFD, MAKE, ORIENTATION = 0x8825, 0x010F, 0x0112


def photo(kind: str = "JPEG", size=(800, 600), colour=(180, 40, 40), exif: bool = True, **save) -> bytes:
    image = Image.new("RGB", size, colour)
    image.putpixel((0, 0), (0, 0, 255))  # a marker to see where the top-left corner went
    out = io.BytesIO()
    if exif:
        tags = Image.Exif()
        tags[MAKE] = "ShopperPhone"
        tags[ORIENTATION] = save.pop("orientation", 1)
        tags[GPS_IFD] = {1: "N", 2: (39.0, 54.0, 27.0), 3: "E", 4: (116.0, 23.0, 50.0)}
        save["exif"] = tags
    image.save(out, kind, **save)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "WEBP"])
def test_a_photo_is_kept_without_its_exif(kind):
    original = photo(kind)
    assert b"ShopperPhone" in original
    kept = clean(original, 8_000_000)
    assert b"ShopperPhone" not in kept.data
    with Image.open(io.BytesIO(kept.data)) as image:
        assert image.format == kind and image.size == (800, 600)
        assert not image.getexif()
        assert "exif" not in image.info
    assert kept.content_type == f"image/{kind.lower()}" and (kept.width, kept.height) == (800, 600)
    with Image.open(io.BytesIO(kept.thumbnail)) as thumb:
        assert thumb.format == "JPEG" and max(thumb.size) <= max(THUMBNAIL_SIZE)


def test_the_picture_is_turned_upright_before_its_orientation_goes():
    kept = clean(photo(size=(400, 200), orientation=6), 8_000_000)  # "rotate 90° clockwise to view"
    assert (kept.width, kept.height) == (200, 400)


def test_the_same_photo_gives_the_same_hash_and_trailing_data_is_dropped():
    original = photo("PNG")
    assert clean(original, 8_000_000).sha256 == clean(original, 8_000_000).sha256
    smuggled = clean(original + b"<script>alert(1)</script>", 8_000_000)
    assert b"<script>" not in smuggled.data


def test_a_gif_is_kept_as_its_first_frame_in_png():
    out = io.BytesIO()
    frames = [Image.new("P", (64, 64), n) for n in (1, 2)]
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    kept = clean(out.getvalue(), 8_000_000)
    assert kept.content_type == "image/png" and kept.extension == "png"


@pytest.mark.parametrize("data", [b"", b"%PDF-1.7 not a photo", b"GIF89a" + b"\0" * 20,
                                  b"<svg xmlns='http://www.w3.org/2000/svg'/>"])
def test_what_is_not_a_photo_is_refused(data):
    with pytest.raises(Refused) as refused:
        clean(data, 8_000_000)
    assert refused.value.reason == "not_image"


def test_a_bmp_or_tiff_is_not_kept():
    for kind in ("BMP", "TIFF"):
        with pytest.raises(Refused) as refused:
            clean(photo(kind, exif=False), 8_000_000)
        assert refused.value.reason == "not_image"


def test_too_many_bytes_are_refused_before_decoding():
    with pytest.raises(Refused) as refused:
        clean(photo(), 1_000)
    assert refused.value.reason == "too_big"


def test_a_decompression_bomb_is_refused_from_its_header():
    side = int(MAX_PIXELS ** 0.5) + 100
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, "PNG")  # a few KB that would decode to gigabytes
    assert len(out.getvalue()) < 2_000_000
    with pytest.raises(Refused) as refused:
        clean(out.getvalue(), 8_000_000)
    assert refused.value.reason == "too_big"
