from __future__ import annotations

import hashlib
import itertools
import os
from typing import Any

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glance.images.plugins.modules import image_upload
from ansible_collections.glance.images.tests.unit.conftest import make_response, raw_image
from ansible_collections.glance.images.tests.unit.helpers import run_module


class FakeGlance:
    """A ``conn.image`` adapter that keeps images in memory and behaves like Glance for what the module uses."""

    def __init__(self, images: list[dict[str, Any]] | None = None, stores: tuple[str, ...] = ("fs", "fs2"),
                 methods: tuple[str, ...] = ("glance-direct", "web-download")) -> None:
        self.images = {raw["id"]: raw for raw in images or []}
        self.stores = stores
        self.methods = methods
        self.calls: list[tuple[str, str]] = []
        self.ids = (f"10000000-0000-0000-0000-{n:012d}" for n in itertools.count(1))
        self.corrupt = False
        self.fail_put = False
        self.staged: dict[str, bytes] = {}

    def request(self, path: str, method: str, params: Any = None, json: Any = None, data: Any = None,
                headers: Any = None, raise_exc: bool = True, **_: Any):
        self.calls.append((method, path))
        parts = path.strip("/").split("/")
        if path == "/images" and method == "GET":
            return self.list(dict(params or []))
        if path == "/images" and method == "POST":
            return self.create(json)
        if path == "/info/stores":
            return make_response(200, {"stores": [{"id": store} for store in self.stores]})
        if path == "/info/import":
            return make_response(200, {"import-methods": {"value": list(self.methods)}})
        image = self.images.get(parts[1]) if len(parts) > 1 else None
        if image is None:
            return make_response(404, {"message": "image not found"})
        if len(parts) == 2:
            return self.image_call(image, method, json)
        if parts[2] == "file":
            return self.put_data(image, b"".join(data), (headers or {}).get("X-Image-Meta-Store"))
        if parts[2] == "stage":
            self.staged[image["id"]] = b"".join(data)
            image["status"] = "uploading"
            return make_response(204)
        if parts[2] == "import":
            return self.put_data(image, self.staged.pop(image["id"]), ",".join(json.get("stores") or []) or None)
        if parts[2] == "tasks":
            return make_response(200, {"tasks": []})
        return make_response(404)

    def list(self, query: dict[str, str]):
        found = [raw for raw in self.images.values()
                 if raw["name"] == query.get("name", raw["name"]) and str(raw.get("os_hidden", False)).lower() == query.get("os_hidden", "false")
                 and raw["status"] == query.get("status", raw["status"])]
        return make_response(200, {"images": found[: int(query.get("limit", 25))]})

    def create(self, body: dict[str, Any]):
        image = dict(raw_image(0), status="queued", size=None, checksum=None, os_hash_algo=None, os_hash_value=None,
                     stores="", visibility="shared", protected=False, os_hidden=False, tags=[])
        image.update(body, id=next(self.ids))
        self.images[image["id"]] = image
        return make_response(201, image)

    def image_call(self, image: dict[str, Any], method: str, operations: Any):
        if method == "DELETE":
            if image["protected"]:
                return make_response(403, {"message": "image is protected"})
            del self.images[image["id"]]
            return make_response(204)
        if method == "PATCH":
            for operation in operations:
                image[operation["path"].lstrip("/")] = operation["value"]
        return make_response(200, image)

    def put_data(self, image: dict[str, Any], data: bytes, store: str | None):
        if self.fail_put:
            return make_response(400, {"message": "upload refused"})
        image.update(status="active", size=len(data), checksum=hashlib.md5(data).hexdigest(), os_hash_algo="sha512",
                     os_hash_value=hashlib.sha512(b"corrupt" if self.corrupt else data).hexdigest(), stores=store or "fs")
        return make_response(204)

    def writes(self) -> list[tuple[str, str]]:
        return [call for call in self.calls if call[0] != "GET"]


@pytest.fixture
def glance(monkeypatch):
    def install(images: list[dict[str, Any]] | None = None, **kwargs: Any) -> FakeGlance:
        fake = FakeGlance(images, **kwargs)

        class Connection:
            image = fake

        import openstack
        monkeypatch.setattr(openstack, "connect", lambda **_: Connection())
        monkeypatch.setattr(image_upload, "POLL_SECONDS", 0)
        return fake

    return install


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "disk.raw"
    path.write_bytes(os.urandom(100_000))
    return path


def stored(path, **extra: Any) -> dict[str, Any]:
    """An active image holding the data of ``path``."""
    data = path.read_bytes()
    attributes = dict(name="web", size=len(data), checksum=hashlib.md5(data).hexdigest(),
                      os_hash_value=hashlib.sha512(data).hexdigest())
    return raw_image(1, **dict(attributes, **extra))


def upload(capsys, src, **args: Any) -> tuple[int, dict[str, Any]]:
    return run_module(image_upload.main, dict({"name": "web", "src": str(src), "disk_format": "raw"}, **args), capsys)


def test_creates_uploads_and_verifies(glance, capsys, src):
    fake = glance()
    code, result = upload(capsys, src, properties={"hw_cpu_cores": 2}, tags=["b", "a"], _ansible_diff=True)
    assert code == 0 and result["changed"] is True
    assert result["image"]["status"] == "active" and result["image"]["properties"] == {"hw_cpu_cores": "2"}
    assert result["bytes_sent"] == 100_000 and result["upload_seconds"] >= 0
    assert result["diff"]["before"] == {} and result["diff"]["after"]["size"] == 100_000
    image_id = result["image"]["id"]
    assert fake.writes() == [("POST", "/images"), ("PUT", f"/images/{image_id}/file")]


def test_same_data_uploads_nothing_and_properties_compare_as_strings(glance, capsys, src):
    fake = glance([stored(src, hw_cpu_cores="2", tags=["a"])])
    code, result = upload(capsys, src, properties={"hw_cpu_cores": 2}, tags=["a"])
    assert code == 0 and result["changed"] is False
    assert "bytes_sent" not in result
    assert fake.writes() == []


def test_same_data_updates_only_differing_metadata_with_diff(glance, capsys, src):
    fake = glance([stored(src, visibility="public", distro="x")])
    code, result = upload(capsys, src, min_ram=512, properties={"distro": "y"}, _ansible_diff=True)
    assert code == 0 and result["changed"] is True
    assert result["diff"] == {"before": {"min_ram": 0, "properties": {"distro": "x"}},
                              "after": {"min_ram": 512, "properties": {"distro": "y"}}}
    assert result["image"]["visibility"] == "public"
    assert fake.writes() == [("PATCH", f"/images/{result['image']['id']}")]


def test_metadata_update_in_check_mode_changes_nothing(glance, capsys, src):
    fake = glance([stored(src)])
    code, result = upload(capsys, src, min_ram=512, _ansible_check_mode=True)
    assert code == 0 and result["changed"] is True and result["image"]["min_ram"] == 512
    assert fake.writes() == []


def test_different_data_without_replace_fails_naming_both_hashes(glance, capsys, src):
    other = stored(src, os_hash_value="f" * 128)
    fake = glance([other])
    code, result = upload(capsys, src)
    assert code == 1
    assert "sha512:" + "f" * 128 in result["msg"] and hashlib.sha512(src.read_bytes()).hexdigest() in result["msg"]
    assert "replace: true" in result["msg"]
    assert fake.writes() == []


def test_different_size_is_different_data(glance, capsys, src):
    glance([stored(src, size=5)])
    code, result = upload(capsys, src)
    assert code == 1 and "100000 bytes" in result["msg"]


def test_replace_uploads_then_deletes_the_old_image_keeping_its_metadata(glance, capsys, src):
    old = stored(src, os_hash_value="f" * 128, visibility="public", tags=["golden"], distro="debian")
    fake = glance([old])
    code, result = upload(capsys, src, replace=True, _ansible_diff=True)
    assert code == 0 and result["changed"] is True
    new_id = result["image"]["id"]
    assert fake.writes() == [("POST", "/images"), ("PUT", f"/images/{new_id}/file"), ("DELETE", f"/images/{old['id']}")]
    assert result["deleted"] == [old["id"]]
    assert result["image"]["visibility"] == "public" and result["image"]["tags"] == ["golden"]
    assert result["image"]["properties"] == {"distro": "debian"}
    assert result["diff"]["before"]["id"] == old["id"] and result["diff"]["after"]["id"] == new_id


def test_replace_of_a_protected_image_needs_protected_false(glance, capsys, src):
    fake = glance([stored(src, os_hash_value="f" * 128, protected=True)])
    code, result = upload(capsys, src, replace=True)
    assert code == 1 and "protected: false" in result["msg"]
    assert fake.writes() == []
    code, result = upload(capsys, src, replace=True, protected=False)
    assert code == 0 and len(fake.images) == 1


def test_verification_mismatch_deletes_the_new_image(glance, capsys, src):
    fake = glance()
    fake.corrupt = True
    code, result = upload(capsys, src)
    assert code == 1
    assert "verification failed" in result["msg"] and hashlib.sha512(src.read_bytes()).hexdigest() in result["msg"]
    assert fake.images == {}


def test_checksum_mismatch_fails_and_leaves_no_image(glance, capsys, src):
    fake = glance()
    code, result = upload(capsys, src, checksum="sha256:" + "0" * 64)
    assert code == 1 and "does not match checksum" in result["msg"]
    assert hashlib.sha256(src.read_bytes()).hexdigest() in result["msg"]
    assert fake.images == {}


def test_matching_checksum_is_accepted(glance, capsys, src):
    glance()
    code, result = upload(capsys, src, checksum="sha256:" + hashlib.sha256(src.read_bytes()).hexdigest())
    assert code == 0 and result["changed"] is True


def test_checksum_is_checked_for_an_existing_image_too(glance, capsys, src):
    fake = glance([stored(src)])
    code, result = upload(capsys, src, checksum="md5:" + "0" * 32)
    assert code == 1 and "does not match checksum" in result["msg"]
    assert fake.writes() == []


def test_bad_checksum_syntax(glance, capsys, src):
    fake = glance()
    code, result = upload(capsys, src, checksum="nope")
    assert code == 1 and "ALGO:HEX" in result["msg"]
    assert fake.calls == []


def test_upload_error_deletes_the_new_image(glance, capsys, src):
    fake = glance()
    fake.fail_put = True
    code, result = upload(capsys, src)
    assert code == 1 and "upload refused" in result["msg"]
    assert fake.images == {}


def test_two_images_with_the_name_are_an_error_listing_ids(glance, capsys, src):
    first, second = stored(src), stored(src, id="00000000-0000-0000-0000-000000000002", os_hidden=True)
    glance([first, second])
    code, result = upload(capsys, src)
    assert code == 1 and first["id"] in result["msg"] and second["id"] in result["msg"]


@pytest.mark.parametrize("status", ["queued", "saving", "uploading"])
def test_image_not_active_is_an_error_then_restarted_with_replace(glance, capsys, src, status):
    broken = raw_image(1, name="web", status=status, size=None)
    fake = glance([broken])
    code, result = upload(capsys, src)
    assert code == 1 and f"is {status}" in result["msg"] and "replace: true" in result["msg"]
    code, result = upload(capsys, src, replace=True)
    assert code == 0 and result["deleted"] == [broken["id"]]
    assert list(fake.images) == [result["image"]["id"]]


def test_missing_src_fails_before_anything(glance, capsys, tmp_path):
    fake = glance()
    code, result = upload(capsys, tmp_path / "missing")
    assert code == 1 and "does not exist" in result["msg"]
    assert fake.calls == []


def test_directory_src_fails(glance, capsys, tmp_path):
    glance()
    code, result = upload(capsys, tmp_path)
    assert code == 1 and "not a regular file" in result["msg"]


def test_disk_format_is_needed_to_create(glance, capsys, src):
    fake = glance()
    code, result = run_module(image_upload.main, {"name": "web", "src": str(src)}, capsys)
    assert code == 1 and "disk_format is required" in result["msg"]
    assert fake.writes() == []


def test_check_mode_create_changes_nothing(glance, capsys, src):
    fake = glance()
    code, result = upload(capsys, src, _ansible_check_mode=True, _ansible_diff=True)
    assert code == 0 and result["changed"] is True
    assert result["image"]["size"] == 100_000 and result["image"]["id"] is None
    assert result["diff"]["after"]["name"] == "web"
    assert fake.writes() == []


def test_unknown_store_fails_before_creating(glance, capsys, src):
    fake = glance()
    code, result = upload(capsys, src, stores=["nope"])
    assert code == 1 and "unknown store nope" in result["msg"] and "fs, fs2" in result["msg"]
    assert fake.writes() == []


def test_put_writes_to_at_most_one_store(glance, capsys, src):
    fake = glance()
    code, result = upload(capsys, src, stores=["fs", "fs2"])
    assert code == 1 and "glance-direct" in result["msg"]
    assert fake.calls == []


def test_put_to_one_store(glance, capsys, src):
    glance()
    code, result = upload(capsys, src, stores=["fs2"])
    assert code == 0 and result["image"]["stores"] == ["fs2"]


def test_same_data_missing_from_a_store_is_an_error(glance, capsys, src):
    glance([stored(src, stores="fs")])
    code, result = upload(capsys, src, stores=["fs2"])
    assert code == 1 and "not in store fs2" in result["msg"]


def test_glance_direct_stages_then_imports(glance, capsys, src):
    fake = glance()
    code, result = upload(capsys, src, method="glance-direct", stores=["fs", "fs2"])
    assert code == 0 and result["changed"] is True and result["image"]["stores"] == ["fs", "fs2"]
    image_id = result["image"]["id"]
    assert fake.writes() == [("POST", "/images"), ("PUT", f"/images/{image_id}/stage"), ("POST", f"/images/{image_id}/import")]


def test_glance_direct_needs_the_method(glance, capsys, src):
    fake = glance(methods=("web-download",))
    code, result = upload(capsys, src, method="glance-direct")
    assert code == 1 and "does not offer the glance-direct" in result["msg"]
    assert fake.writes() == []


def test_absent_deletes_every_image_of_the_name(glance, capsys, src):
    images = [stored(src), stored(src, id="00000000-0000-0000-0000-000000000002", os_hidden=True)]
    fake = glance(images)
    code, result = run_module(image_upload.main, {"name": "web", "state": "absent", "_ansible_diff": True}, capsys)
    assert code == 0 and result["changed"] is True and sorted(result["deleted"]) == sorted(raw["id"] for raw in images)
    assert fake.images == {} and result["diff"]["after"] == {"images": []}


def test_absent_already_is_unchanged(glance, capsys):
    glance()
    code, result = run_module(image_upload.main, {"name": "web", "state": "absent"}, capsys)
    assert code == 0 and result["changed"] is False


def test_absent_check_mode_deletes_nothing(glance, capsys, src):
    fake = glance([stored(src)])
    code, result = run_module(image_upload.main, {"name": "web", "state": "absent", "_ansible_check_mode": True}, capsys)
    assert code == 0 and result["changed"] is True and len(fake.images) == 1


def test_absent_protected_needs_protected_false(glance, capsys, src):
    fake = glance([stored(src, protected=True)])
    code, result = run_module(image_upload.main, {"name": "web", "state": "absent"}, capsys)
    assert code == 1 and "is protected" in result["msg"] and len(fake.images) == 1
    code, result = run_module(image_upload.main, {"name": "web", "state": "absent", "protected": False}, capsys)
    assert code == 0 and fake.images == {}


def test_present_requires_src(glance, capsys):
    glance()
    code, result = run_module(image_upload.main, {"name": "web"}, capsys)
    assert code == 1 and "src" in result["msg"]


def test_reserved_property_fails_before_anything(glance, capsys, src):
    fake = glance()
    code, result = upload(capsys, src, properties={"os_glance_x": "1"})
    assert code == 1 and "reserved" in result["msg"]
    assert fake.calls == []


def test_read_error_while_streaming_deletes_the_new_image(glance, capsys, src, monkeypatch):
    fake = glance()

    def broken_stream(*_args: Any, **_kwargs: Any):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(image_upload, "stream_file", broken_stream)
    code, result = upload(capsys, src)
    assert code == 1 and "Input/output error" in result["msg"]
    assert fake.images == {}


def test_interrupted_upload_deletes_the_new_image(glance, capsys, src, monkeypatch):
    fake = glance()

    def interrupted(*_args: Any, **_kwargs: Any):
        raise KeyboardInterrupt()

    monkeypatch.setattr(image_upload, "stream_file", interrupted)
    code, result = upload(capsys, src)
    assert code == 1 and "interrupted" in result["msg"] and "was deleted" in result["msg"]
    assert fake.images == {}


def test_glance_hashing_with_another_algorithm_is_verified_with_a_second_read(glance, capsys, src, monkeypatch):
    fake = glance()
    original = fake.put_data

    def sha256_glance(image: dict[str, Any], data: bytes, store: str | None):
        response = original(image, data, store)
        image.update(os_hash_algo="sha256", os_hash_value=hashlib.sha256(data).hexdigest())
        return response

    warnings: list[str] = []
    monkeypatch.setattr(fake, "put_data", sha256_glance)
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, warning: warnings.append(warning))
    code, result = upload(capsys, src)
    assert code == 0 and result["image"]["os_hash_algo"] == "sha256"
    assert any("read once more" in warning for warning in warnings)
