from __future__ import annotations

import hashlib
import io
import os
from typing import Any

import pytest
from openstack import exceptions as sdk_exceptions

from ansible_collections.glance.images.plugins.module_utils._glance import GlanceAPI
from ansible_collections.glance.images.plugins.module_utils._upload import (
    SizedBody,
    SourceChangedError,
    check_readable_file,
    stream_file,
    upload_headers,
)
from ansible_collections.glance.images.tests.unit.conftest import make_response


class RecordingAdapter:
    """A ``conn.image`` that consumes request bodies the way requests/urllib3 do (iterating)."""

    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []

    def request(self, path: str, method: str, data: Any = None, headers: Any = None, **kwargs: Any):
        received = b"".join(data) if data is not None else b""
        self.requests.append(dict(path=path, method=method, headers=headers, length=len(data), kwargs=kwargs,
                                  sha256=hashlib.sha256(received).hexdigest(), size=len(received)))
        return make_response(self.status, {"message": "refused"} if self.status >= 400 else {})


class Conn:
    def __init__(self, adapter: RecordingAdapter) -> None:
        self.image = adapter


@pytest.fixture
def data_file(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    return path, data


def test_stream_file_sends_every_byte_once_with_content_length_and_hashes(data_file):
    path, data = data_file
    adapter = RecordingAdapter()
    stats = stream_file(GlanceAPI(Conn(adapter)), "/images/x/file", str(path), ["sha512", "md5"], chunk_size=1024 * 1024)
    sent = adapter.requests[0]
    assert sent["method"] == "PUT" and sent["path"] == "/images/x/file"
    assert sent["headers"] == {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))}
    assert sent["length"] == len(data) and sent["size"] == len(data)
    assert sent["sha256"] == hashlib.sha256(data).hexdigest()
    assert sent["kwargs"]["connect_retries"] == 0
    assert stats.bytes_sent == len(data)
    assert stats.digests == {"sha512": hashlib.sha512(data).hexdigest(), "md5": hashlib.md5(data).hexdigest()}
    assert stats.seconds >= 0


def test_stream_file_sends_the_store_header(data_file):
    path = data_file[0]
    adapter = RecordingAdapter()
    stream_file(GlanceAPI(Conn(adapter)), "/images/x/file", str(path), ["sha256"], store="fs2")
    assert adapter.requests[0]["headers"]["X-Image-Meta-Store"] == "fs2"


def test_stream_file_raises_the_sdk_error_on_refusal(data_file):
    path = data_file[0]
    with pytest.raises(sdk_exceptions.HttpException):
        stream_file(GlanceAPI(Conn(RecordingAdapter(status=400))), "/images/x/file", str(path), ["sha256"])


def test_sized_body_reads_in_chunks_and_never_more_than_its_length():
    body = SizedBody(io.BytesIO(b"abcdefghij"), 7, ["md5"], chunk_size=3)
    assert len(body) == 7
    assert list(body) == [b"abc", b"def", b"g"]
    assert body.bytes_read == 7
    assert body.hexdigests()["md5"] == hashlib.md5(b"abcdefg").hexdigest()


def test_sized_body_fails_when_the_file_shrank():
    body = SizedBody(io.BytesIO(b"abc"), 10, ["md5"], chunk_size=2)
    with pytest.raises(SourceChangedError, match="ended after 3 of 10 bytes"):
        list(body)
    assert isinstance(body.error, SourceChangedError)


def test_stream_file_reports_the_read_error_not_the_wrapped_one(data_file, monkeypatch):
    path = data_file[0]

    class WrappingAdapter(RecordingAdapter):
        def request(self, path: str, method: str, data: Any = None, **kwargs: Any):
            try:
                list(data)
            except OSError as error:
                raise sdk_exceptions.SDKException("connection aborted") from error
            return make_response(204)

    monkeypatch.setattr(os, "fstat", lambda fd: os.stat_result((0, 0, 0, 0, 0, 0, 10 ** 9, 0, 0, 0)))
    with pytest.raises(SourceChangedError):
        stream_file(GlanceAPI(Conn(WrappingAdapter())), "/images/x/file", str(path), ["md5"])


def test_check_readable_file(tmp_path):
    regular = tmp_path / "f"
    regular.write_bytes(b"x")
    assert check_readable_file(str(regular)) is None
    assert "does not exist" in check_readable_file(str(tmp_path / "missing"))
    assert "not a regular file" in check_readable_file(str(tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_check_readable_file_unreadable(tmp_path):
    path = tmp_path / "secret"
    path.write_bytes(b"x")
    path.chmod(0)
    assert "cannot be read" in check_readable_file(str(path))


def test_upload_headers():
    assert upload_headers(5) == {"Content-Type": "application/octet-stream", "Content-Length": "5"}
