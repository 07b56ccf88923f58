# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glance interoperable image import that fails loudly and fast.

Glance answers an import request with 202 and works in the background. When the work fails,
the image silently goes back to ``queued`` (or, for copy-image, stays ``active`` without the
new store) and the failed stores appear in ``os_glance_failed_import``; the reason is only in
the import task (``/v2/images/{id}/tasks``). This module requests imports checking the HTTP
status, and watches image and task together so that a failure is reported within one poll
interval, with the task's message.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ansible_collections.glance.images.plugins.module_utils._checksum import DEFAULT_CHUNK_SIZE, MultiHasher
from ansible_collections.glance.images.plugins.module_utils._glance import GlanceAPI

try:
    from openstack import exceptions as sdk_exceptions
except ImportError:
    sdk_exceptions = None

IMPORTING_STORES_KEY = "os_glance_importing_to_stores"
FAILED_STORES_KEY = "os_glance_failed_import"
IMPORT_LOCK_KEY = "os_glance_import_task"
TASK_FINISHED = ("success", "failure")
SUCCEEDED, FAILED, PENDING = "succeeded", "failed", "pending"
# How long to wait for the task's own message once the image shows the failure.
_TASK_MESSAGE_GRACE = 3.0


class GlanceImportError(Exception):
    """Base of the import errors; ``detail`` is the message for the user."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ImportRefused(GlanceImportError):
    """Glance refused the import request (non-2xx answer); nothing was started."""


class ImportFailed(GlanceImportError):
    def __init__(self, detail: str, image: dict[str, Any] | None, stores: dict[str, str]) -> None:
        super().__init__(detail)
        self.image = image
        self.stores = stores


class ImportTimedOut(GlanceImportError):
    def __init__(self, detail: str, image: dict[str, Any] | None, stores: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.image = image
        self.stores = stores or {}


@dataclass
class ImportResult:
    image: dict[str, Any]
    stores: dict[str, str] = field(default_factory=dict)


def store_list(raw: dict[str, Any] | None, key: str) -> list[str]:
    """A comma-separated store list of the image (``stores`` or an ``os_glance_*`` property)."""
    value = (raw or {}).get(key) or ""
    if isinstance(value, list):
        return [store for store in value if store]
    return [store for store in str(value).split(",") if store]


def web_download(uri: str) -> dict[str, Any]:
    return {"name": "web-download", "uri": uri}


def glance_direct() -> dict[str, Any]:
    return {"name": "glance-direct"}


def copy_image() -> dict[str, Any]:
    return {"name": "copy-image"}


def glance_download(region: str, image_id: str, service_interface: str | None = None) -> dict[str, Any]:
    method = {"name": "glance-download", "glance_region": region, "glance_image_id": image_id}
    if service_interface:
        method["glance_service_interface"] = service_interface
    return method


def import_body(method: dict[str, Any], stores: list[str] | None = None, all_stores: bool | None = None,
                all_stores_must_succeed: bool | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"method": method}
    if stores:
        body["stores"] = list(stores)
    if all_stores is not None:
        body["all_stores"] = all_stores
    if all_stores_must_succeed is not None:
        body["all_stores_must_succeed"] = all_stores_must_succeed
    return body


def request_import(api: GlanceAPI, image_id: str, method: dict[str, Any], stores: list[str] | None = None,
                   all_stores: bool | None = None, all_stores_must_succeed: bool | None = None) -> None:
    """POST /images/{id}/import; any refusal raises ImportRefused with Glance's explanation."""
    # Imported here: _base imports ansible's AnsibleModule, which unit tests of this file do not need.
    from ansible_collections.glance.images.plugins.module_utils._base import describe_sdk_error

    body = import_body(method, stores, all_stores, all_stores_must_succeed)
    try:
        api.request("POST", f"/images/{image_id}/import", json=body)
    except sdk_exceptions.HttpException as error:
        raise ImportRefused(_without_repeated_reason(describe_sdk_error(error))) from error


def _without_repeated_reason(detail: str) -> str:
    """``HTTP 400 Bad Request: 400 Bad Request URI ...`` (Glance's HTML error page) -> ``HTTP 400 Bad Request: URI ...``."""
    head, separator, rest = detail.partition(": ")
    reason = head.removeprefix("HTTP ")
    if separator and reason and rest.startswith(reason + " "):
        return f"{head}: {rest[len(reason) + 1:]}"
    return detail


def latest_task(api: GlanceAPI, image_id: str, raw: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The import task that holds the image's lock, else the newest one; None when tasks cannot be read."""
    try:
        tasks = api.image_tasks(image_id)
    except sdk_exceptions.SDKException:
        return None
    lock = (raw or {}).get(IMPORT_LOCK_KEY)
    for task in tasks:
        if lock and task.get("id") == lock:
            return task
    return max(tasks, key=lambda task: task.get("created_at") or "", default=None)


def store_results(raw: dict[str, Any] | None, stores: list[str] | None, failed: set[str]) -> dict[str, str]:
    present = set(store_list(raw, "stores"))
    wanted = stores if stores is not None else sorted(present)
    return {store: SUCCEEDED if store in present else FAILED if store in failed else PENDING for store in wanted}


@dataclass
class Progress:
    state: str  # "running", "done" or "failed"
    stores: dict[str, str]
    reason: str = ""


class ImportWatch:
    """Judges successive (task, image) readings of one import.

    ``before`` is the image as it was before the import request: stores it already listed as
    failed are stale (Glance clears them only once its task starts) and do not count until the
    task is seen working on them or has finished.
    """

    def __init__(self, stores: list[str] | None, all_stores_must_succeed: bool = True,
                 before: dict[str, Any] | None = None) -> None:
        self.stores = stores
        self.must_succeed = all_stores_must_succeed
        self.stale_failed = set(store_list(before, FAILED_STORES_KEY))

    def _failed_stores(self, raw: dict[str, Any], task_finished: bool) -> set[str]:
        failed = set(store_list(raw, FAILED_STORES_KEY))
        importing = set(store_list(raw, IMPORTING_STORES_KEY))
        if task_finished:
            self.stale_failed.clear()
        self.stale_failed -= importing | (self.stale_failed - failed)
        return failed - self.stale_failed

    def assess(self, raw: dict[str, Any] | None, task: dict[str, Any] | None) -> Progress:
        if raw is None:
            return Progress("failed", {}, "the image was deleted during the import")
        task_finished = (task or {}).get("status") in TASK_FINISHED
        failed = self._failed_stores(raw, task_finished)
        results = store_results(raw, self.stores, failed)
        status = raw.get("status")
        if status in ("killed", "deleted", "pending_delete"):
            return Progress("failed", results, f"the image is {status}")
        wanted_failed = sorted(store for store, result in results.items() if result == FAILED)
        if self.must_succeed and wanted_failed:
            return Progress("failed", results, f"Glance reports the import to {', '.join(wanted_failed)} as failed")
        if status == "active" and self._complete(results):
            return Progress("done", results)
        if task_finished:
            return Progress("failed", results, f"the import task ended ({task['status']}) with the image {status}"
                            + _store_summary(results))
        if not raw.get(IMPORT_LOCK_KEY) and not self._importing(raw, results):
            return Progress("failed", results, f"Glance stopped importing and left the image {status}" + _store_summary(results))
        return Progress("running", results)

    def _complete(self, results: dict[str, str]) -> bool:
        if self.must_succeed:
            return all(result == SUCCEEDED for result in results.values())
        return PENDING not in results.values() and (SUCCEEDED in results.values() or not results)

    @staticmethod
    def _importing(raw: dict[str, Any], results: dict[str, str]) -> bool:
        importing = set(store_list(raw, IMPORTING_STORES_KEY))
        pending = {store for store, result in results.items() if result == PENDING}
        return raw.get("status") in ("importing", "saving") or bool(importing & pending)


def _store_summary(results: dict[str, str]) -> str:
    if not results:
        return ""
    return " (" + ", ".join(f"{store}: {result}" for store, result in results.items()) + ")"


def describe_task(task: dict[str, Any] | None) -> str:
    if not task:
        return "the import task could not be read"
    message = (task.get("message") or "").strip() or "no message"
    return f"import task {task.get('id')} {task.get('status')}: {message}"


def wait_for_import(api: GlanceAPI, image_id: str, stores: list[str] | None, timeout: float,
                    poll_interval: float = 2.0, *, all_stores_must_succeed: bool = True,
                    before: dict[str, Any] | None = None,
                    sleep: Callable[[float], None] = time.sleep,
                    clock: Callable[[], float] = time.monotonic) -> ImportResult:
    """Poll until the image is active in every store of ``stores`` (None: just active).

    With ``all_stores_must_succeed=False`` a store that fails is reported as failed and the
    import succeeds when at least one store succeeded. Raises ImportFailed as soon as Glance
    shows the failure, ImportTimedOut (naming the state reached) after ``timeout`` seconds.
    """
    watch = ImportWatch(stores, all_stores_must_succeed, before)
    deadline = clock() + timeout
    raw: dict[str, Any] | None = None
    while True:
        # The task first: when it has finished, the image read after it is final.
        task = latest_task(api, image_id, raw)
        raw = api.get_image(image_id)
        progress = watch.assess(raw, task)
        if progress.state == "done":
            return ImportResult(raw, progress.stores)
        if progress.state == "failed":
            task = _finished_task(api, image_id, task, raw, sleep, clock)
            raise ImportFailed(f"{progress.reason}; {describe_task(task)}", raw, progress.stores)
        remaining = deadline - clock()
        if remaining <= 0:
            raise ImportTimedOut(f"timed out after {timeout} s waiting for the import: image status "
                                 f"{raw.get('status')}{_store_summary(progress.stores)}; {describe_task(task)}",
                                 raw, progress.stores)
        sleep(min(poll_interval, remaining))


def _finished_task(api: GlanceAPI, image_id: str, task: dict[str, Any] | None, raw: dict[str, Any] | None,
                   sleep: Callable[[float], None], clock: Callable[[], float]) -> dict[str, Any] | None:
    """The task with its final message: Glance marks it failed just after reverting the image."""
    deadline = clock() + _TASK_MESSAGE_GRACE
    while task is not None and task.get("status") not in TASK_FINISHED and clock() < deadline:
        sleep(0.25)
        task = latest_task(api, image_id, raw) or task
    return task


def glance_digest(raw: dict[str, Any], algorithm: str) -> str | None:
    """The digest Glance computed for the image with ``algorithm``, when it has one."""
    if raw.get("os_hash_algo") == algorithm and raw.get("os_hash_value"):
        return str(raw["os_hash_value"]).lower()
    if algorithm == "md5" and raw.get("checksum"):
        return str(raw["checksum"]).lower()
    return None


def stream_image_digest(api: GlanceAPI, image_id: str, algorithm: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> str:
    """Hash the image data as Glance serves it, chunk by chunk (never whole in memory)."""
    response = api.request("GET", f"/images/{image_id}/file", stream=True)
    hasher = MultiHasher([algorithm])
    try:
        for chunk in response.iter_content(chunk_size=chunk_size):
            hasher.update(chunk)
    finally:
        response.close()
    return hasher.hexdigest(algorithm)
