from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.glance.images.plugins.module_utils import _import as imp
from ansible_collections.glance.images.plugins.module_utils._glance import GlanceAPI
from ansible_collections.glance.images.tests.unit.conftest import FakeConnection, make_response, raw_image


def image(status: str = "importing", **extra: Any) -> dict[str, Any]:
    return raw_image(1, status=status, **extra)


def task(status: str = "processing", message: str = "", task_id: str = "t1") -> dict[str, Any]:
    return {"id": task_id, "status": status, "message": message, "created_at": "2026-01-01T00:00:01Z"}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def scripted_api(readings: list[tuple[dict[str, Any] | None, dict[str, Any] | None]]) -> tuple[GlanceAPI, list]:
    """Each poll reads the task list, then the image; the script gives one (image, task) per poll."""
    state = {"poll": 0}

    def handler(method: str, path: str, params: list):
        raw, current_task = readings[min(state["poll"], len(readings) - 1)]
        if path.endswith("/tasks"):
            return make_response(200, {"tasks": [current_task] if current_task else []})
        state["poll"] += 1
        return make_response(200, raw) if raw is not None else make_response(404, {"message": "gone"})

    conn = FakeConnection(handler)
    return GlanceAPI(conn), conn.image.calls


# ---- ImportWatch ---------------------------------------------------------------------------


def test_done_when_active_in_every_store():
    watch = imp.ImportWatch(["fs", "fs2"])
    progress = watch.assess(image("active", stores="fs,fs2"), task("success"))
    assert progress.state == "done"
    assert progress.stores == {"fs": "succeeded", "fs2": "succeeded"}


def test_running_while_queued_with_the_import_lock():
    watch = imp.ImportWatch(["fs"])
    assert watch.assess(image("queued", stores="", os_glance_import_task="t1"), task()).state == "running"


def test_a_failed_store_fails_at_once_when_all_must_succeed():
    watch = imp.ImportWatch(["fs", "fs2"])
    raw = image("importing", stores="fs", os_glance_import_task="t1", os_glance_failed_import="fs2")
    progress = watch.assess(raw, task())
    assert progress.state == "failed"
    assert "fs2" in progress.reason
    assert progress.stores == {"fs": "succeeded", "fs2": "failed"}


def test_a_failed_store_is_reported_but_tolerated_when_allowed():
    watch = imp.ImportWatch(["fs", "fs2"], all_stores_must_succeed=False)
    raw = image("active", stores="fs", os_glance_failed_import="fs2", os_glance_importing_to_stores="")
    progress = watch.assess(raw, task("success"))
    assert progress.state == "done"
    assert progress.stores == {"fs": "succeeded", "fs2": "failed"}


def test_every_store_failing_is_a_failure_even_when_allowed():
    watch = imp.ImportWatch(["fs", "fs2"], all_stores_must_succeed=False)
    raw = image("queued", stores="", os_glance_failed_import="fs,fs2")
    assert watch.assess(raw, task("failure", "boom")).state == "failed"


def test_back_to_queued_without_lock_is_a_failure_even_before_the_task_says_so():
    watch = imp.ImportWatch(None)
    progress = watch.assess(image("queued", stores=""), task("processing"))
    assert progress.state == "failed"
    assert "queued" in progress.reason


@pytest.mark.parametrize("status", ["killed", "deleted"])
def test_killed_or_deleted_image_fails(status):
    assert imp.ImportWatch(["fs"]).assess(image(status), task()).state == "failed"


def test_vanished_image_fails():
    assert imp.ImportWatch(["fs"]).assess(None, None).state == "failed"


def test_stale_failed_store_from_an_earlier_import_is_ignored_until_glance_restarts_it():
    before = image("active", stores="fs", os_glance_failed_import="fs2")
    watch = imp.ImportWatch(["fs2"], before=before)
    # Glance has not yet started the new task: the old marker is still there.
    first = watch.assess(image("active", stores="fs", os_glance_failed_import="fs2", os_glance_import_task="t2"), task(task_id="t2"))
    assert first.state == "running"
    # The task starts (marker cleared, store importing), then fails again: now it counts.
    watch.assess(image("active", stores="fs", os_glance_importing_to_stores="fs2", os_glance_import_task="t2"), task(task_id="t2"))
    again = watch.assess(image("active", stores="fs", os_glance_failed_import="fs2", os_glance_import_task="t2"), task(task_id="t2"))
    assert again.state == "failed"


def test_task_finished_without_the_stores_is_a_failure():
    watch = imp.ImportWatch(["fs2"])
    progress = watch.assess(image("active", stores="fs"), task("success"))
    assert progress.state == "failed"


def test_copy_image_still_running_while_locked():
    watch = imp.ImportWatch(["fs2"])
    raw = image("active", stores="fs", os_glance_import_task="t1", os_glance_importing_to_stores="fs2")
    assert watch.assess(raw, task()).state == "running"


# ---- wait_for_import ---------------------------------------------------------------------------


def test_wait_returns_the_active_image():
    api, _calls = scripted_api([
        (image("queued", stores="", os_glance_import_task="t1"), task()),
        (image("importing", stores="", os_glance_import_task="t1"), task()),
        (image("active", stores="fs"), task("success")),
    ])
    clock = Clock()
    result = imp.wait_for_import(api, "id", ["fs"], 60, 1.0, sleep=clock.sleep, clock=clock)
    assert result.image["status"] == "active"
    assert result.stores == {"fs": "succeeded"}
    assert clock.sleeps == [1.0, 1.0]


def test_wait_fails_within_one_poll_with_the_task_message():
    api, _calls = scripted_api([
        (image("queued", stores="", os_glance_import_task="t1"), task()),
        (image("queued", stores="", os_glance_failed_import="fs"), task("failure", "HTTP Error 404")),
    ])
    clock = Clock()
    with pytest.raises(imp.ImportFailed) as failed:
        imp.wait_for_import(api, "id", ["fs"], 600, 1.0, sleep=clock.sleep, clock=clock)
    assert clock.now == 1.0
    assert "HTTP Error 404" in failed.value.detail
    assert "import task t1 failure" in failed.value.detail
    assert failed.value.stores == {"fs": "failed"}


def test_wait_gives_the_task_a_moment_to_record_its_message():
    api, _calls = scripted_api([
        (image("queued", stores="", os_glance_failed_import="fs"), task()),
        (image("queued", stores="", os_glance_failed_import="fs"), task()),
        (image("queued", stores="", os_glance_failed_import="fs"), task("failure", "the reason")),
    ])

    clock = Clock()
    # Tasks are read without advancing the script; advance it on each grace sleep instead.
    original_sleep = clock.sleep

    def sleep(seconds: float) -> None:
        original_sleep(seconds)
        api.get_image("id")

    with pytest.raises(imp.ImportFailed) as failed:
        imp.wait_for_import(api, "id", ["fs"], 600, 1.0, sleep=sleep, clock=clock)
    assert "the reason" in failed.value.detail
    assert clock.now <= imp._TASK_MESSAGE_GRACE


def test_wait_times_out_naming_the_state():
    api, _calls = scripted_api([(image("importing", stores="", os_glance_import_task="t1"), task(message="Copied 3 MiB"))])
    clock = Clock()
    with pytest.raises(imp.ImportTimedOut) as timed_out:
        imp.wait_for_import(api, "id", ["fs"], 5, 2.0, sleep=clock.sleep, clock=clock)
    assert "timed out after 5 s" in timed_out.value.detail
    assert "image status importing" in timed_out.value.detail
    assert "fs: pending" in timed_out.value.detail
    assert "Copied 3 MiB" in timed_out.value.detail
    assert clock.sleeps == [2.0, 2.0, 1.0]


# ---- request_import, digests -------------------------------------------------------------------


def test_request_import_raises_glance_explanation():
    def handler(method, path, params):
        response = make_response(400)
        response.headers["Content-Type"] = "text/html"
        response._content = b"<html><body><h1>400 Bad Request</h1>URI for web-download does not pass filtering: file:///x</body></html>"
        return response

    api = GlanceAPI(FakeConnection(handler))
    with pytest.raises(imp.ImportRefused) as refused:
        imp.request_import(api, "id", imp.web_download("file:///x"))
    assert refused.value.detail == "HTTP 400 Bad Request: URI for web-download does not pass filtering: file:///x"


def test_import_body():
    body = imp.import_body(imp.glance_download("RegionTwo", "abc", "public"), ["fs"], None, False)
    assert body == {
        "method": {"name": "glance-download", "glance_region": "RegionTwo", "glance_image_id": "abc", "glance_service_interface": "public"},
        "stores": ["fs"], "all_stores_must_succeed": False,
    }


def test_glance_digest():
    raw = image("active", os_hash_algo="sha512", os_hash_value="ABC", checksum="def")
    assert imp.glance_digest(raw, "sha512") == "abc"
    assert imp.glance_digest(raw, "md5") == "def"
    assert imp.glance_digest(raw, "sha256") is None


def test_stream_image_digest_hashes_chunks():
    import hashlib

    data = b"x" * 10_000

    def handler(method, path, params):
        response = make_response(200)
        response._content = data
        response._content_consumed = True
        return response

    api = GlanceAPI(FakeConnection(handler))
    assert imp.stream_image_digest(api, "id", "sha256", chunk_size=1000) == hashlib.sha256(data).hexdigest()
