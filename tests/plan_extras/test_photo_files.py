"""Content sniffing and bounded storage, without the database."""

from __future__ import annotations

import io
import uuid

import pytest

from tests.plan_extras.conftest import GIF, JPEG, WEBP, png_bytes
from tripl_core.errors import Invalid, NotFound, PayloadTooLarge
from tripl_core.plan_extras import photo_files


@pytest.fixture(autouse=True)
def clean_uploads():  # overrides the database-backed one of conftest: these tests need no database
    yield


@pytest.mark.parametrize("data,fmt", [(png_bytes(), photo_files.PNG), (JPEG, photo_files.JPEG),
                                      (GIF, photo_files.GIF), (WEBP, photo_files.WEBP)])
def test_sniff_accepts(data, fmt):
    assert photo_files.sniff(data[:16]) == fmt


@pytest.mark.parametrize("head", [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dXXXX",  # PNG signature without IHDR
    b"RIFF\x00\x00\x00\x00WAVEfmt ",  # RIFF but audio
    b"GIF88a" + b"\x00" * 10,
    b"<svg xmlns='x'>",
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3",
    b"",
])
def test_sniff_refuses(head):
    assert photo_files.sniff(head) is None


class CountingReader(io.BytesIO):
    """Records how much the store read, to prove it stops early."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.read_bytes = 0

    def read(self, n: int = -1) -> bytes:
        chunk = super().read(n)
        self.read_bytes += len(chunk)
        return chunk


def test_store_stops_reading_at_limit(tmp_path):
    src = CountingReader(png_bytes() + b"\x00" * (5 * 1024 * 1024))
    with pytest.raises(PayloadTooLarge):
        photo_files.store(src, tmp_path, uuid.uuid4(), uuid.uuid4(), max_bytes=100_000)
    assert src.read_bytes <= 100_000 + photo_files.CHUNK
    assert not any(tmp_path.rglob("*.part")) and not (tmp_path / "photos").exists()


def test_store_refuses_non_image_after_first_chunk(tmp_path):
    src = CountingReader(b"hello, not an image" * 100_000)
    with pytest.raises(Invalid) as exc:
        photo_files.store(src, tmp_path, uuid.uuid4(), uuid.uuid4(), max_bytes=10**9)
    assert exc.value.loc == ["body", "file"]
    assert src.read_bytes == photo_files.CHUNK


def test_store_writes_under_project_dir(tmp_path):
    pid, photo_id = uuid.uuid4(), uuid.uuid4()
    data = png_bytes()
    stored = photo_files.store(io.BytesIO(data), tmp_path, pid, photo_id, max_bytes=len(data))
    assert stored.storage_key == f"photos/{pid}/{photo_id}.png" and stored.size_bytes == len(data)
    assert (tmp_path / stored.storage_key).read_bytes() == data
    photo_files.remove(tmp_path, stored.storage_key)
    assert not (tmp_path / "photos" / str(pid)).exists()


def test_path_of_refuses_escapes(tmp_path):
    with pytest.raises(NotFound):
        photo_files.path_of(tmp_path, "../../etc/passwd")
    photo_files.remove(tmp_path, "../../etc/passwd")  # silently ignored, nothing outside is touched
