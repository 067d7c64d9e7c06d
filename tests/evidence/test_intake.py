"""The intake and the evidence store on real databases (SQLite and
PostgreSQL) and real storage: a local directory, and an S3 server speaking
the real wire protocol (moto's server, as MinIO would answer boto3). A
photo is kept once, counted for its conversation only, limited per
request, attached to the request that is created, and never shared."""
from __future__ import annotations

import io
import stat
import threading

import boto3
import pytest
from PIL import Image

from kefu.core.config import EvidenceOptions
from kefu.evidence.images import Refused
from kefu.evidence.intake import Intake, build, refusal
from kefu.evidence.storage import Missing, open_storage
from kefu.evidence.storage.interface import key_for
from kefu.store.shop import ShopStore
from tests.conftest import free_port
from tests.store.test_shop import RETURNABLE

ME, SOMEONE_ELSE = "rest:shopper-a", "rest:shopper-b"


def photo(colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def intake(engine, db_url, tmp_path) -> Intake:
    return build(EvidenceOptions(directory=tmp_path / "evidence", max_photos=3), db_url)


def test_a_photo_is_kept_once_for_its_own_conversation(intake, tmp_path):
    first = intake.receive(ME, "rest", photo())
    again = intake.receive(ME, "rest", photo())
    assert (first.waiting, first.duplicate) == (1, False)
    assert (again.evidence_id, again.waiting, again.duplicate) == (first.evidence_id, 1, True)
    assert intake.store.waiting_count(SOMEONE_ELSE) == 0
    assert intake.store.belongs_to(first.evidence_id, ME)
    assert not intake.store.belongs_to(first.evidence_id, SOMEONE_ELSE)
    view = intake.store.get(first.evidence_id)
    stored = tmp_path / "evidence" / view.storage_key
    assert stored.read_bytes()[:3] == b"\xff\xd8\xff"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600  # photos of shoppers are nobody else's
    assert intake.storage.get(view.thumbnail_key)[:3] == b"\xff\xd8\xff"


def test_one_request_takes_a_bounded_number_and_a_resent_photo_is_never_refused(intake):
    for n in range(3):
        intake.receive(ME, "rest", photo((n * 60, 10, 10)))
    with pytest.raises(Refused) as refused:
        intake.receive(ME, "rest", photo((1, 200, 1)))
    assert refused.value.reason == "too_many"
    assert intake.receive(ME, "rest", photo((0, 10, 10))).duplicate  # a connector retrying after a crash
    assert intake.store.waiting_count(ME) == 3


def test_the_request_created_attaches_what_waits_and_nothing_else(intake, engine):
    intake.receive(ME, "rest", photo((1, 1, 1)))
    intake.receive(ME, "rest", photo((2, 2, 2)))
    intake.receive(SOMEONE_ELSE, "rest", photo((3, 3, 3)))
    request = ShopStore(engine).create_aftersale(RETURNABLE, "return", "杯子碎了", evidence_of=ME)
    attached = intake.store.of_aftersale(request)
    assert len(attached) == 2 and {e.aftersale_id for e in attached} == {request}
    assert intake.store.waiting_count(ME) == 0 and intake.store.waiting_count(SOMEONE_ELSE) == 1


def test_storage_away_is_a_polite_refusal_and_nothing_is_recorded(engine, db_url, tmp_path):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the directory should be")
    intake = build(EvidenceOptions(directory=blocked), db_url)
    with pytest.raises(Refused) as refused:
        intake.receive(ME, "rest", photo())
    assert refused.value.reason == "unavailable"
    assert intake.store.waiting_count(ME) == 0


def test_refusals_are_sentences_in_the_shoppers_language():
    assert "8" in refusal("too_big", 8_000_000, "zh") and "MB" in refusal("too_big", 8_000_000, "en")
    both = refusal("not_image", 8_000_000)
    assert any("\u4e00" <= c <= "\u9fff" for c in both) and any(c.isascii() and c.isalpha() for c in both)
    assert refusal("whatever", 8_000_000, "en") == refusal("unavailable", 8_000_000, "en")


def test_concurrent_writers_of_one_photo_leave_one_whole_file(tmp_path):
    storage = open_storage(EvidenceOptions(directory=tmp_path))
    data = photo() * 50
    key = key_for("ab" * 32, "jpg")
    threads = [threading.Thread(target=storage.put, args=(key, data, "image/jpeg")) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert storage.get(key) == data
    assert [p.name for p in (tmp_path / "ab").iterdir()] == [key.split("/")[1]]  # no drafts left


def test_keys_are_kept_to_content_addresses(tmp_path):
    storage = open_storage(EvidenceOptions(directory=tmp_path))
    for hostile in ("../../etc/passwd", "ab/" + "0" * 64 + ".jpg/../x", "/abs.jpg"):
        with pytest.raises(ValueError):
            storage.get(hostile)
    with pytest.raises(Missing):
        storage.get(key_for("cd" * 32, "png"))


# -- S3-compatible object storage, over HTTP -----------------------------------------


@pytest.fixture
def s3_server(monkeypatch):
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "kefu-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "kefu-test-secret")
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_photos_go_to_a_private_s3_bucket_created_on_first_use(s3_server, engine, db_url):
    options = EvidenceOptions(storage="s3", s3_endpoint=s3_server, s3_bucket="shop-evidence")
    intake = build(options, db_url)
    received = intake.receive(ME, "rest", photo())
    view = intake.store.get(received.evidence_id)
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    head = client.head_object(Bucket="shop-evidence", Key=view.storage_key)
    assert head["ContentType"] == "image/jpeg" and head["ContentLength"] == view.size
    assert intake.storage.get(view.thumbnail_key)[:3] == b"\xff\xd8\xff"
    acl = client.get_bucket_acl(Bucket="shop-evidence")
    assert all(g["Grantee"].get("URI", "").endswith("AllUsers") is False for g in acl["Grants"])
    with pytest.raises(Missing):
        intake.storage.get(key_for("ef" * 32, "jpg"))
    # a second instance (another process) finds the bucket there and shares the photos
    other = open_storage(options)
    assert other.get(view.storage_key) == intake.storage.get(view.storage_key)


def test_fresh_sessions_from_one_address_cannot_fill_the_storage(intake):
    from kefu.store.limits import PHOTOS_PER_CLIENT

    address = "keyed-client-1"
    for n in range(PHOTOS_PER_CLIENT.count):  # each from a new session, one photo each
        intake.receive(f"webchat:session-{n}", "webchat", photo((n, n, 100)), client=address)
    with pytest.raises(Refused) as refused:
        intake.receive("webchat:session-new", "webchat", photo((250, 0, 0)), client=address)
    assert refused.value.reason == "too_many"
    assert intake.store.waiting_count("webchat:session-new") == 0
    assert intake.receive("webchat:session-new", "webchat", photo((250, 0, 0)), client="another-address").waiting == 1
