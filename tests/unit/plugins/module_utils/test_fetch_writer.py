from __future__ import annotations

import errno
import fcntl
import hashlib
import os
from typing import Any

import pytest

from ansible_collections.glance.images.plugins.module_utils import _fetch

ALIGN = _fetch.DIRECT_IO_ALIGNMENT
DATA = os.urandom(8 * ALIGN * 16 + 1234)  # several aligned chunks and an odd tail


def open_file(path: str) -> Any:
    return os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+b", buffering=0)


def direct_flag_set(descriptor: int) -> bool:
    return bool(fcntl.fcntl(descriptor, fcntl.F_GETFL) & getattr(os, "O_DIRECT", 0))


def read(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


def write_in_chunks(writer: _fetch.FileWriter, data: bytes, chunk_size: int) -> None:
    for start in range(0, len(data), chunk_size):
        piece = _fetch.aligned_buffer(chunk_size)
        length = len(data[start:start + chunk_size])
        piece[:length] = data[start:start + chunk_size]
        writer(piece[:length])


def test_writes_every_byte_and_leaves_the_file_as_opened(tmp_path):
    path = str(tmp_path / "out")
    with open_file(path) as stream:
        writer = _fetch.FileWriter(stream, 0)
        write_in_chunks(writer, DATA, 16 * ALIGN)
        writer.close()
        assert not direct_flag_set(stream.fileno())
        stream.seek(0)
        assert stream.read() == DATA  # unaligned reads work again


def test_aligned_chunks_go_direct_where_the_file_system_allows(tmp_path):
    path = str(tmp_path / "out")
    with open_file(path) as stream:
        if not _fetch.set_direct_io(stream.fileno(), True):
            pytest.skip("this file system has no O_DIRECT")
        _fetch.set_direct_io(stream.fileno(), False)
        writer = _fetch.FileWriter(stream, 0)
        write_in_chunks(writer, DATA[:16 * ALIGN], 16 * ALIGN)
        assert writer.direct and direct_flag_set(stream.fileno())
        writer(memoryview(DATA[16 * ALIGN:16 * ALIGN + 10]))  # the odd tail takes the page cache
        assert not writer.direct and not direct_flag_set(stream.fileno())
        writer.close()
    assert read(path) == DATA[:16 * ALIGN + 10]


def test_resume_at_an_odd_offset(tmp_path):
    path = str(tmp_path / "out")
    offset = 5000
    with open_file(path) as stream:
        stream.write(DATA[:offset])
        writer = _fetch.FileWriter(stream, offset)
        writer(memoryview(DATA[offset:2 * ALIGN]))  # realigned by the reader
        write_in_chunks(writer, DATA[2 * ALIGN:], 16 * ALIGN)
        writer.close()
    assert read(path) == DATA


def test_file_system_without_direct_io(tmp_path, monkeypatch):
    monkeypatch.setattr(_fetch, "set_direct_io", lambda descriptor, enabled: not enabled)
    path = str(tmp_path / "out")
    with open_file(path) as stream:
        writer = _fetch.FileWriter(stream, 0)
        write_in_chunks(writer, DATA, 16 * ALIGN)
        assert writer.direct_possible is False
        writer.close()
    assert read(path) == DATA


def test_direct_write_refused_falls_back_to_the_page_cache(tmp_path, monkeypatch):
    real_pwrite = os.pwrite
    refused: list[int] = []

    def pwrite(descriptor: int, data: Any, offset: int) -> int:
        if direct_flag_set(descriptor):
            refused.append(offset)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_pwrite(descriptor, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    path = str(tmp_path / "out")
    with open_file(path) as stream:
        writer = _fetch.FileWriter(stream, 0)
        write_in_chunks(writer, DATA, 16 * ALIGN)
        writer.close()
    assert read(path) == DATA
    assert len(refused) <= 1


def test_other_write_errors_are_raised(tmp_path, monkeypatch):
    def pwrite(descriptor: int, data: Any, offset: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", pwrite)
    with open_file(str(tmp_path / "out")) as stream:
        writer = _fetch.FileWriter(stream, 0)
        with pytest.raises(OSError) as raised:
            write_in_chunks(writer, DATA, 16 * ALIGN)
        assert raised.value.errno == errno.ENOSPC
        writer.close()


class FakeResponse:
    """A response body that records the sizes asked for."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0
        self.asked: list[int] = []

    def readinto(self, buffer: memoryview) -> int:
        self.asked.append(len(buffer))
        piece = self.data[self.position:self.position + len(buffer)]
        buffer[:len(piece)] = piece
        self.position += len(piece)
        return len(piece)


@pytest.mark.parametrize("offset", [0, 5000])
def test_reads_end_on_aligned_offsets(tmp_path, offset):
    chunk_size = 16 * ALIGN + 100  # an odd chunk_size reads whole blocks only
    image = _fetch.ImageData("id", "name", len(DATA), "http://glance.invalid/file", "token",
                             "sha512", hashlib.sha512(DATA).hexdigest(), None)
    transfer = _fetch.Transfer(image, opener=None, chunk_size=chunk_size, retries=0, read_timeout=1)  # type: ignore[arg-type]
    transfer.offset = offset
    response = FakeResponse(DATA[offset:])
    hashers = {"sha512": hashlib.sha512(DATA[:offset])}
    path = str(tmp_path / "out")
    with open_file(path) as stream:
        stream.write(DATA[:offset])
        pipeline = _fetch.ChunkPipeline(stream, hashers, offset, chunk_size)
        try:
            transfer._receive(response, pipeline)  # pylint: disable=protected-access
        finally:
            pipeline.close()
    assert read(path) == DATA
    assert hashers["sha512"].hexdigest() == image.os_hash_value
    assert response.asked[0] == 16 * ALIGN - offset % ALIGN
    assert all(asked == 16 * ALIGN for asked in response.asked[1:-1])  # the last one follows the odd tail
