from __future__ import annotations

import hashlib
import itertools
from typing import Any, Callable

import pytest

from ansible_collections.glance.images.plugins.modules import image_import
from ansible_collections.glance.images.tests.unit.conftest import make_response
from ansible_collections.glance.images.tests.unit.helpers import run_module

DATA = b"image data" * 100
SHA512 = hashlib.sha512(DATA).hexdigest()
SHA256 = hashlib.sha256(DATA).hexdigest()


class FakeGlance:
    """A stateful Glance behind ``conn.image``: images, import methods, stores and import outcomes."""

    def __init__(self) -> None:
        self.images: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, list[dict[str, Any]]] = {}
        self.methods = ["glance-direct", "web-download", "copy-image", "glance-download"]
        self.stores = [{"id": "fs", "default": True}, {"id": "fs2"}]
        self.calls: list[tuple[str, str, Any]] = []
        self.ids = (f"00000000-0000-4000-8000-{n:012d}" for n in itertools.count(1))
        # What an accepted import does to the image: default, success in the requested stores.
        self.on_import: Callable[[dict[str, Any], dict[str, Any]], None] = self.succeed
        self.refuse: str | None = None

    def add(self, **attributes: Any) -> dict[str, Any]:
        raw = {"id": next(self.ids), "status": "queued", "stores": "", "tags": [], "container_format": "bare",
               "disk_format": "raw", "visibility": "shared", "protected": False, "os_hidden": False,
               "created_at": "2026-01-01T00:00:00Z"}
        raw.update(attributes)
        self.images[raw["id"]] = raw
        return raw

    def succeed(self, raw: dict[str, Any], body: dict[str, Any]) -> None:
        stores = body.get("stores") or ["fs"]
        present = [store for store in raw["stores"].split(",") if store]
        raw.update(status="active", stores=",".join(sorted(set(present) | set(stores))), size=len(DATA),
                   os_hash_algo="sha512", os_hash_value=SHA512, checksum=hashlib.md5(DATA).hexdigest())
        self.tasks.setdefault(raw["id"], []).append({"id": "t", "status": "success", "message": "", "created_at": "1"})

    def fail(self, raw: dict[str, Any], body: dict[str, Any]) -> None:
        raw.update(status="queued", os_glance_failed_import=",".join(body.get("stores") or ["fs"]))
        self.tasks.setdefault(raw["id"], []).append(
            {"id": "t", "status": "failure", "message": "Task failed due to Internal Error", "created_at": "1"})

    def request(self, path: str, method: str, params: Any = None, raise_exc: bool = True, json: Any = None, **kwargs: Any):
        self.calls.append((method, path, json))
        parts = path.strip("/").split("/")
        if path == "/info/import":
            return make_response(200, {"import-methods": {"value": self.methods}})
        if path == "/info/stores":
            return make_response(200, {"stores": self.stores})
        if path == "/images" and method == "GET":
            query = dict(params or [])
            hidden = query.get("os_hidden") == "true"
            found = [raw for raw in self.images.values() if raw.get("name") == query.get("name") and raw["os_hidden"] == hidden]
            return make_response(200, {"images": found})
        if path == "/images" and method == "POST":
            return make_response(201, self.add(**json))
        image_id = parts[1]
        raw = self.images.get(image_id)
        if raw is None:
            return make_response(404, {"message": "not found"})
        if len(parts) == 2 and method == "GET":
            return make_response(200, raw)
        if len(parts) == 2 and method == "DELETE":
            del self.images[image_id]
            return make_response(204)
        if len(parts) == 2 and method == "PATCH":
            for operation in json:
                raw[operation["path"].lstrip("/")] = operation["value"]
            return make_response(200, raw)
        if parts[2] == "tasks":
            return make_response(200, {"tasks": self.tasks.get(image_id, [])})
        if parts[2] == "import":
            if self.refuse:
                return make_response(400, {"message": self.refuse})
            self.on_import(raw, json)
            return make_response(202)
        if parts[2] == "file":
            response = make_response(200)
            response._content = DATA
            response._content_consumed = True
            return response
        raise AssertionError(f"unexpected request {method} {path}")

    def requests(self, method: str, suffix: str = "") -> list[tuple[str, str, Any]]:
        return [call for call in self.calls if call[0] == method and call[1].endswith(suffix)]


class FakeConnection:
    def __init__(self, glance: FakeGlance) -> None:
        self.image = glance


@pytest.fixture
def glance(monkeypatch: pytest.MonkeyPatch) -> FakeGlance:
    fake = FakeGlance()
    import openstack
    monkeypatch.setattr(openstack, "connect", lambda **kwargs: FakeConnection(fake))
    monkeypatch.setattr(image_import.ImageImportModule, "poll_interval", 0.01)
    # Tests that load controller code flag the process as the controller, where module warnings are
    # displayed instead of returned; a module never runs there.
    from ansible.module_utils import _internal
    monkeypatch.setattr(_internal, "is_controller", False)
    monkeypatch.setattr(image_import.ImageImportModule, "uri_hint", lambda self: " (URI answers HTTP 404)")
    return fake


def run(capsys, **args: Any) -> tuple[int, dict[str, Any]]:
    args.setdefault("name", "img")
    return run_module(image_import.main, args, capsys)


WEB = dict(uri="http://example.test/img.raw", disk_format="raw")


def test_web_download_creates_imports_and_waits(glance, capsys):
    code, result = run(capsys, stores=["fs", "fs2"], **WEB)
    assert code == 0 and result["changed"] is True
    assert result["image"]["status"] == "active"
    assert result["stores"] == {"fs": "succeeded", "fs2": "succeeded"}
    (_method, _path, body), = glance.requests("POST", "/import")
    assert body == {"method": {"name": "web-download", "uri": WEB["uri"]}, "stores": ["fs", "fs2"], "all_stores_must_succeed": True}


def test_method_not_offered_lists_the_offered_ones(glance, capsys):
    glance.methods = ["glance-direct", "web-download"]
    code, result = run(capsys, method="copy-image", stores=["fs2"])
    assert code == 1
    assert result["msg"] == ("Failed to import image img: the cloud does not offer the copy-image import method; "
                             "it offers glance-direct, web-download")
    assert not glance.requests("POST")


def test_unknown_store_lists_the_stores(glance, capsys):
    code, result = run(capsys, stores=["fs", "ceph"], **WEB)
    assert code == 1 and "unknown store ceph; the cloud offers fs (default), fs2" in result["msg"]
    assert not glance.requests("POST")


def test_refused_import_deletes_the_new_image(glance, capsys):
    glance.refuse = "URI for web-download does not pass filtering: file:///x"
    code, result = run(capsys, **WEB)
    assert code == 1
    assert "Glance refused the web-download import: HTTP 400 Bad Request: URI for web-download does not pass filtering" in result["msg"]
    assert "the image was deleted" in result["msg"]
    assert glance.images == {}


def test_failed_import_reports_the_task_and_deletes_the_new_image(glance, capsys):
    glance.on_import = glance.fail
    code, result = run(capsys, **WEB)
    assert code == 1
    assert "Task failed due to Internal Error" in result["msg"]
    assert "(URI answers HTTP 404)" in result["msg"]
    assert result["stores"] == {"fs": "failed"}
    assert glance.images == {}


def test_checksum_mismatch_deletes_the_imported_image(glance, capsys):
    code, result = run(capsys, checksum="sha512:" + "0" * 128, **WEB)
    assert code == 1
    assert f"expected sha512:{'0' * 128}, the imported image has sha512:{SHA512}" in result["msg"]
    assert glance.images == {}


def test_checksum_of_another_algorithm_is_verified_by_download(glance, capsys):
    code, result = run(capsys, checksum=f"sha256:{SHA256}", **WEB)
    assert code == 0 and result["verified"] == "download"
    assert glance.requests("GET", "/file")
    assert result["image"]["properties"]["glance_images.verified.sha256"] == SHA256


def test_a_recorded_verification_spares_the_next_run_a_download(glance, capsys):
    run(capsys, checksum=f"sha256:{SHA256}", **WEB)
    downloads = len(glance.requests("GET", "/file"))
    code, result = run(capsys, checksum=f"sha256:{SHA256}", **WEB)
    assert code == 0 and result["changed"] is False and result["verified"] == "recorded"
    assert len(glance.requests("GET", "/file")) == downloads


def test_verify_download_ignores_the_record(glance, capsys):
    run(capsys, checksum=f"sha256:{SHA256}", **WEB)
    downloads = len(glance.requests("GET", "/file"))
    code, result = run(capsys, checksum=f"sha256:{SHA256}", verify="download", **WEB)
    assert code == 0 and result["changed"] is False and result["verified"] == "download"
    assert len(glance.requests("GET", "/file")) == downloads + 1


def test_an_existing_image_verified_by_download_gets_the_record(glance, capsys):
    glance.add(name="img", status="active", stores="fs", os_hash_algo="sha512", os_hash_value=SHA512)
    code, result = run(capsys, checksum=f"sha256:{SHA256}", **WEB)
    assert code == 0 and result["changed"] is True and result["verified"] == "download"
    assert glance.requests("PATCH")[-1][2] == [{"op": "add", "path": "/glance_images.verified.sha256", "value": SHA256}]


def test_existing_active_image_with_matching_checksum_is_unchanged(glance, capsys):
    glance.add(name="img", status="active", stores="fs", os_hash_algo="sha512", os_hash_value=SHA512)
    code, result = run(capsys, checksum=f"sha512:{SHA512}", **WEB)
    assert code == 0 and result["changed"] is False and result["verified"] == "glance-hash"
    assert not glance.requests("POST") and not glance.requests("PATCH")


def test_existing_image_gets_metadata_updates_only(glance, capsys):
    glance.add(name="img", status="active", stores="fs", os_hash_algo="sha512", os_hash_value=SHA512)
    code, result = run_module(image_import.main, dict(name="img", min_ram=512, _ansible_diff=True, **WEB), capsys)
    assert code == 0 and result["changed"] is True
    assert result["diff"] == {"before": {"min_ram": None}, "after": {"min_ram": 512}}
    assert not glance.requests("POST")


def test_failed_earlier_import_is_retried_not_duplicated(glance, capsys):
    old = glance.add(name="img", status="queued", os_glance_failed_import="fs")
    code, result = run(capsys, **WEB)
    assert code == 0 and result["changed"] is True
    assert result["image"]["id"] == old["id"]
    assert len(glance.images) == 1
    assert not glance.requests("POST", "/images")


def test_check_mode_creates_nothing(glance, capsys):
    code, result = run(capsys, _ansible_check_mode=True, stores=["fs2"], **WEB)
    assert code == 0 and result["changed"] is True
    assert result["image"]["id"] is None and result["stores"] == {"fs2": "pending"}
    assert glance.images == {} and not glance.requests("POST")


def test_copy_image_copies_only_missing_stores(glance, capsys):
    raw = glance.add(name="img", status="active", stores="fs")
    code, result = run(capsys, method="copy-image", all_stores=True)
    assert code == 0 and result["changed"] is True
    assert result["stores"] == {"fs": "succeeded", "fs2": "succeeded"}
    (_method, _path, body), = glance.requests("POST", "/import")
    assert body["stores"] == ["fs2"] and body["method"] == {"name": "copy-image"}
    assert raw["stores"] == "fs,fs2"


def test_copy_image_already_everywhere_is_unchanged(glance, capsys):
    glance.add(name="img", status="active", stores="fs,fs2")
    code, result = run(capsys, method="copy-image", stores=["fs2"])
    assert code == 0 and result["changed"] is False
    assert not glance.requests("POST")


def test_failed_copy_keeps_the_image(glance, capsys):
    raw = glance.add(name="img", status="active", stores="fs")

    def fail_copy(image, body):
        image["os_glance_failed_import"] = "fs2"
        glance.tasks[image["id"]] = [{"id": "t", "status": "failure", "message": "disk full", "created_at": "1"}]

    glance.on_import = fail_copy
    code, result = run(capsys, method="copy-image", stores=["fs2"])
    assert code == 1 and "disk full" in result["msg"]
    assert raw["id"] in glance.images


def test_lenient_all_stores_succeeds_with_a_warning(glance, capsys):
    def half(image, body):
        image.update(status="active", stores="fs", os_glance_failed_import="fs2", os_hash_algo="sha512", os_hash_value=SHA512)
        glance.tasks[image["id"]] = [{"id": "t", "status": "success", "message": "", "created_at": "1"}]

    glance.on_import = half
    code, result = run(capsys, all_stores=True, all_stores_must_succeed=False, **WEB)
    assert code == 0
    assert result["stores"] == {"fs": "succeeded", "fs2": "failed"}
    # Warnings come back as strings or as serialized WarningSummary dicts, depending on ansible-core's state.
    assert "the import to store fs2 failed" in str(result["warnings"])


def test_glance_direct_checks_the_checksum_before_importing(glance, capsys, tmp_path):
    src = tmp_path / "disk.raw"
    src.write_bytes(DATA)

    def stage(api, path, source, algorithms, **kwargs):
        from ansible_collections.glance.images.plugins.module_utils._upload import TransferStats

        return TransferStats(len(DATA), 0.1, {name: hashlib.new(name, DATA).hexdigest() for name in algorithms})

    image_import.stream_file, original = stage, image_import.stream_file
    try:
        code, result = run(capsys, method="glance-direct", src=str(src), disk_format="raw", checksum="sha256:" + "1" * 64)
    finally:
        image_import.stream_file = original
    assert code == 1
    assert f"src has sha256:{SHA256}; nothing was imported and the image was deleted" in result["msg"]
    assert glance.images == {} and not glance.requests("POST", "/import")


@pytest.mark.parametrize("args, message", [
    (dict(method="web-download"), "method web-download needs uri"),
    (dict(method="glance-download", remote_region="R2"), "method glance-download needs remote_image_id"),
    (dict(method="copy-image"), "method copy-image needs stores or all_stores: true"),
    (dict(stores=["fs"], all_stores=True, **WEB), "stores and all_stores are mutually exclusive"),
    (dict(checksum="sha256:xyz", **WEB), "is not a 64-digit hex sha256 digest"),
    (dict(method="glance-direct", src="/nonexistent/file"), "src /nonexistent/file does not exist"),
])
def test_option_errors(glance, capsys, args, message):
    code, result = run(capsys, **args)
    assert code == 1 and message in result["msg"]
    assert not glance.requests("POST")


def test_verify_is_not_an_alias_of_validate_certs(glance, capsys):
    code, result = run(capsys, verify="download", checksum=f"sha512:{SHA512}", **WEB)
    assert code == 0 and result["verified"] == "download"


def test_absent_deletes_every_image_of_that_name(glance, capsys):
    glance.add(name="img", status="active")
    glance.add(name="img", status="queued")
    code, result = run(capsys, state="absent", _ansible_check_mode=True)
    assert code == 0 and result["changed"] is True and len(result["deleted"]) == 2
    assert len(glance.images) == 2
    code, result = run(capsys, state="absent")
    assert code == 0 and glance.images == {}


def test_import_already_running_is_joined_not_duplicated(glance, capsys):
    raw = glance.add(name="img", status="importing", os_glance_import_task="t9", os_glance_importing_to_stores="fs")
    glance.tasks[raw["id"]] = [{"id": "t9", "status": "processing", "message": "", "created_at": "1"}]
    reads = {"count": 0}
    original = glance.request

    def finishing(path, method, **kwargs):
        if method == "GET" and path == f"/images/{raw['id']}":
            reads["count"] += 1
            if reads["count"] == 2:
                glance.succeed(raw, {"stores": ["fs"]})
                raw.pop("os_glance_import_task")
                raw["os_glance_importing_to_stores"] = ""
        return original(path, method, **kwargs)

    glance.request = finishing
    code, result = run(capsys, checksum=f"sha512:{SHA512}", **WEB)
    assert code == 0 and result["changed"] is False
    assert result["image"]["status"] == "active" and result["verified"] == "glance-hash"
    assert not glance.requests("POST")


def test_existing_image_missing_a_store_is_reported(glance, capsys):
    glance.add(name="img", status="active", stores="fs")
    code, result = run(capsys, stores=["fs", "fs2"], **WEB)
    assert code == 0 and result["changed"] is False
    assert result["stores"] == {"fs": "succeeded", "fs2": "missing"}
    assert "copy it there with method copy-image" in str(result["warnings"])
