from __future__ import annotations

import hashlib
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ansible_collections.glance.images.plugins.module_utils import _fetch
from ansible_collections.glance.images.plugins.modules import image_fetch
from ansible_collections.glance.images.tests.unit.helpers import run_module

IMAGE_ID = "11111111-2222-3333-4444-555555555555"
TOKEN = "gAAAA-secret-token-value"
DATA = os.urandom(3 * 1024 * 1024 + 12345)


class DataServer(ThreadingHTTPServer):
    """Serves DATA like Glance's /file (Range requests included), with faults to inject."""

    daemon_threads = True

    def __init__(self, data: bytes) -> None:
        super().__init__(("127.0.0.1", 0), DataHandler)
        self.data = data
        self.requests: list[dict[str, Any]] = []
        self.cut_after: list[int] = []      # one entry per request to cut: bytes of body to send
        self.flip_at: int | None = None     # absolute offset of a byte to corrupt
        self.extra = b""                    # bytes appended to the body (Content-Length includes them)
        self.ignore_range = False
        self.status: int | None = None      # answer every request with this error status

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v2/images/{IMAGE_ID}/file"


class DataHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        server: DataServer = self.server  # type: ignore[assignment]
        server.requests.append(dict(self.headers))
        if server.status:
            self.send_error(server.status, "injected")
            return
        start = 0
        range_header = self.headers.get("Range")
        if range_header and not server.ignore_range:
            start = int(range_header.split("=")[1].rstrip("-"))
        body = bytearray(server.data[start:] + server.extra)
        if server.flip_at is not None and server.flip_at >= start:
            body[server.flip_at - start] ^= 0xFF
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(server.data) - 1}/{len(server.data)}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        limit = server.cut_after.pop(0) if server.cut_after else None
        self.wfile.write(bytes(body if limit is None else body[:limit]))
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def server():
    data_server = DataServer(DATA)
    thread = threading.Thread(target=data_server.serve_forever, daemon=True)
    thread.start()
    yield data_server
    data_server.shutdown()
    data_server.server_close()


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)


@pytest.fixture
def warnings(monkeypatch):
    """Warnings the module gives (recorded directly: how they surface depends on the process)."""
    recorded: list[str] = []
    monkeypatch.setattr(image_fetch.AnsibleModule, "warn", lambda self, warning, **kwargs: recorded.append(warning))
    return recorded


def internal(server: DataServer, data: bytes = DATA, **overrides: Any) -> dict[str, Any]:
    args = dict(
        _url=server.url, _token=TOKEN, _size=len(data), _os_hash_algo="sha512",
        _os_hash_value=hashlib.sha512(data).hexdigest(), _checksum_md5=hashlib.md5(data).hexdigest(),
        _image_name="cirros", _image_id=IMAGE_ID, validate_certs=True,
    )
    args.update(overrides)
    return args


def fetch(capsys, server: DataServer, dest: str, **options: Any) -> tuple[int, dict[str, Any]]:
    args = internal(server)
    args.update(image="cirros", dest=dest)
    args.update(options)
    return run_module(image_fetch.main, args, capsys)


def leftovers(directory: str) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.endswith(".part"))


def read(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


def test_downloads_verifies_and_reports(server, tmp_path, capsys):
    dest = str(tmp_path / "image.raw")
    code, result = fetch(capsys, server, dest, mode="0640")
    assert code == 0, result
    assert read(dest) == DATA
    assert result["changed"] is True and result["bytes_transferred"] == len(DATA) and result["resumed_from"] == 0
    assert result["size"] == len(DATA) and result["image_id"] == IMAGE_ID and result["dest"] == dest
    assert result["os_hash_value"] == hashlib.sha512(DATA).hexdigest()
    assert oct(os.stat(dest).st_mode & 0o777) == "0o640"
    assert result["diff"]["before"]["exists"] is False and result["diff"]["after"]["size"] == len(DATA)
    assert server.requests[0]["X-Auth-Token"] == TOKEN and "Range" not in server.requests[0]
    assert TOKEN not in str(result)
    assert leftovers(str(tmp_path)) == []


def test_second_run_requests_no_data(server, tmp_path, capsys):
    dest = str(tmp_path / "image.raw")
    fetch(capsys, server, dest)
    code, result = fetch(capsys, server, dest)
    assert code == 0 and result["changed"] is False and result["bytes_transferred"] == 0
    assert len(server.requests) == 1


def test_different_file_of_same_size_is_replaced(server, tmp_path, capsys):
    dest = tmp_path / "image.raw"
    dest.write_bytes(bytes(len(DATA)))
    code, result = fetch(capsys, server, str(dest))
    assert code == 0 and result["changed"] is True and read(str(dest)) == DATA
    assert result["diff"]["before"]["hash"].startswith("sha512:")


def test_force_downloads_again(server, tmp_path, capsys):
    dest = str(tmp_path / "image.raw")
    fetch(capsys, server, dest)
    code, result = fetch(capsys, server, dest, force=True)
    assert code == 0 and result["changed"] is True and result["bytes_transferred"] == len(DATA)


def test_interrupted_transfer_resumes_with_range(server, tmp_path, capsys):
    dest = str(tmp_path / "image.raw")
    server.cut_after = [1000000]
    code, result = fetch(capsys, server, dest, chunk_size=65536)
    assert code == 0, result
    assert read(dest) == DATA
    assert server.requests[1]["Range"] == "bytes=1000000-"
    assert result["bytes_transferred"] == len(DATA) and result["resumed_from"] == 0


def test_failed_download_keeps_partial_for_next_run(server, tmp_path, capsys):
    dest = str(tmp_path / "image.raw")
    server.cut_after = [700000, 0, 0]
    code, result = fetch(capsys, server, dest, retries=1, chunk_size=65536)
    assert code == 1 and "download failed after 3 attempt(s)" in result["msg"]
    assert not os.path.exists(dest)
    assert len(leftovers(str(tmp_path))) == 1
    code, result = fetch(capsys, server, dest)
    assert code == 0 and read(dest) == DATA
    assert result["resumed_from"] == 700000 and result["bytes_transferred"] == len(DATA) - 700000
    assert server.requests[-1]["Range"] == "bytes=700000-"
    assert leftovers(str(tmp_path)) == []


def test_without_resume_a_failure_leaves_nothing(server, tmp_path, capsys):
    dest = str(tmp_path / "image.raw")
    server.cut_after = [700000, 0]
    code, result = fetch(capsys, server, dest, retries=0, resume=False)
    assert code == 1 and leftovers(str(tmp_path)) == []


def test_corrupt_byte_fails_and_leaves_dest_untouched(server, tmp_path, capsys):
    dest = tmp_path / "image.raw"
    dest.write_bytes(b"old content")
    server.flip_at = 123456
    code, result = fetch(capsys, server, str(dest))
    assert code == 1
    assert "does not match the expected checksum" in result["msg"] and "sha512 expected" in result["msg"]
    assert read(str(dest)) == b"old content"
    assert leftovers(str(tmp_path)) == []


def test_corrupt_resumed_partial_restarts_from_zero(server, tmp_path, capsys, warnings):
    dest = str(tmp_path / "image.raw")
    image = _fetch.ImageData(IMAGE_ID, "cirros", len(DATA), server.url, TOKEN, "sha512",
                             hashlib.sha512(DATA).hexdigest(), None)
    with open(_fetch.partial_path(dest, image), "wb") as partial:
        partial.write(b"x" * 5000)
    code, result = fetch(capsys, server, dest)
    assert code == 0 and read(dest) == DATA
    assert result["resumed_from"] == 5000
    assert "did not match" in str(warnings)


def test_server_ignoring_range_restarts_from_zero(server, tmp_path, capsys, warnings):
    dest = str(tmp_path / "image.raw")
    server.cut_after = [500000]
    server.ignore_range = True
    code, result = fetch(capsys, server, dest, chunk_size=65536)
    assert code == 0 and read(dest) == DATA
    assert "ignored the Range request" in str(warnings)


def test_more_bytes_than_the_image_is_an_error(server, tmp_path, capsys):
    dest = str(tmp_path / "image.raw")
    server.extra = b"trailing"
    code, result = fetch(capsys, server, dest)
    assert code == 1 and "announces" in result["msg"]
    assert not os.path.exists(dest) and leftovers(str(tmp_path)) == []


def test_fewer_bytes_than_the_image_is_an_error(server, tmp_path, capsys):
    dest = str(tmp_path / "image.raw")
    code, result = run_module(image_fetch.main, dict(internal(server, _size=len(DATA) + 10), image="cirros", dest=dest), capsys)
    assert code == 1 and "announces" in result["msg"] and not os.path.exists(dest)


def test_refused_token_fails_at_once_without_leaking_it(server, tmp_path, capsys):
    server.status = 401
    code, result = fetch(capsys, server, str(tmp_path / "image.raw"))
    assert code == 1 and "HTTP 401" in result["msg"] and len(server.requests) == 1
    assert TOKEN not in str(result)


def test_server_errors_are_retried_then_reported(server, tmp_path, capsys):
    server.status = 503
    code, result = fetch(capsys, server, str(tmp_path / "image.raw"), retries=2)
    assert code == 1 and "HTTP 503" in result["msg"] and len(server.requests) == 3
    assert leftovers(str(tmp_path)) == []


def test_not_enough_space_names_needed_and_free_bytes(server, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(_fetch, "free_bytes", lambda directory: 1000)
    code, result = fetch(capsys, server, str(tmp_path / "image.raw"))
    assert code == 1
    assert f"needs {len(DATA)} bytes, 1000 bytes are free" in result["msg"]
    assert server.requests == [] and leftovers(str(tmp_path)) == []


def test_check_mode_transfers_nothing(server, tmp_path, capsys):
    dest = str(tmp_path / "image.raw")
    code, result = fetch(capsys, server, dest, _ansible_check_mode=True)
    assert code == 0 and result["changed"] is True and not os.path.exists(dest)
    fetch(capsys, server, dest)
    code, result = fetch(capsys, server, dest, _ansible_check_mode=True)
    assert code == 0 and result["changed"] is False
    assert len(server.requests) == 1 and leftovers(str(tmp_path)) == []


def test_check_mode_reports_mode_change(server, tmp_path, capsys):
    dest = str(tmp_path / "image.raw")
    fetch(capsys, server, dest, mode="0600")
    code, result = fetch(capsys, server, dest, mode="0644", _ansible_check_mode=True)
    assert code == 0 and result["changed"] is True and oct(os.stat(dest).st_mode & 0o777) == "0o600"


def test_extra_checksum_good_and_bad(server, tmp_path, capsys):
    good = "sha256:" + hashlib.sha256(DATA).hexdigest()
    code, result = fetch(capsys, server, str(tmp_path / "a"), checksum=good)
    assert code == 0 and result["changed"] is True
    bad = "sha256:" + "0" * 64
    code, result = fetch(capsys, server, str(tmp_path / "b"), checksum=bad)
    assert code == 1 and "sha256 expected " + "0" * 64 in result["msg"]
    assert not os.path.exists(tmp_path / "b") and leftovers(str(tmp_path)) == []


def test_bad_checksum_syntax_is_a_clear_error(server, tmp_path, capsys):
    code, result = fetch(capsys, server, str(tmp_path / "a"), checksum="abc")
    assert code == 1 and "ALGO:HEX" in result["msg"] and server.requests == []


def test_directory_dest_uses_image_name(server, tmp_path, capsys):
    code, result = fetch(capsys, server, str(tmp_path))
    assert code == 0 and result["dest"] == str(tmp_path / "cirros") and read(str(tmp_path / "cirros")) == DATA


def test_missing_directory_is_an_error(server, tmp_path, capsys):
    code, result = fetch(capsys, server, str(tmp_path / "nope" / "image.raw"))
    assert code == 1 and "does not exist" in result["msg"]


def test_md5_is_used_when_the_cloud_has_no_multihash(server, tmp_path, capsys):
    args = dict(internal(server, _os_hash_algo=None, _os_hash_value=None), image="cirros", dest=str(tmp_path / "a"))
    code, result = run_module(image_fetch.main, args, capsys)
    assert code == 0 and result["diff"]["after"]["hash"] == "md5:" + hashlib.md5(DATA).hexdigest()


def test_chunk_size_bounds(server, tmp_path, capsys):
    code, result = fetch(capsys, server, str(tmp_path / "a"), chunk_size=10)
    assert code == 1 and "chunk_size must be between" in result["msg"]


def test_waits_for_another_run_holding_the_partial(tmp_path):
    path = str(tmp_path / ".x.part")
    first = _fetch.open_locked_partial(path)
    outcome: list[Any] = []
    waiter = threading.Thread(target=lambda: outcome.append(_fetch.open_locked_partial(path)))
    waiter.start()
    threading.Event().wait(0.3)  # the waiter is now blocked on the lock
    os.replace(path, str(tmp_path / "dest"))
    first.close()
    waiter.join(5)
    assert outcome == [None]


def test_partial_name_is_specific_to_the_image(tmp_path):
    image = _fetch.ImageData(IMAGE_ID, "n", 1, "u", "t", "sha512", "ab" * 64, "cd" * 16)
    assert _fetch.partial_path("/d/file.img", image) == f"/d/.file.img.{IMAGE_ID}.sha512-{'ab' * 8}.part"


def test_image_name_unusable_as_file_name(tmp_path):
    image = _fetch.ImageData(IMAGE_ID, "a/b", 1, "u", "t", "sha512", "ab" * 64, None)
    with pytest.raises(_fetch.FetchError, match="cannot be a file name"):
        _fetch.resolve_dest(str(tmp_path), image)


def test_content_range_parsing():
    assert _fetch.parse_content_range("bytes 5-9/10") == (5, 9, 10)
    assert _fetch.parse_content_range("bytes 5-9/*") == (5, 9, None)
    assert _fetch.parse_content_range("nonsense") is None


def test_token_option_is_no_log():
    assert image_fetch.argument_spec()["_token"]["no_log"] is True
