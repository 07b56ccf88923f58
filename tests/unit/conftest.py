from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import urlencode

import pytest
import requests


def make_response(status: int, body: Any = None, url: str = "http://glance.test/v2/x") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.url = url
    response.reason = {200: "OK", 204: "No Content", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}.get(status, "")
    response.headers["Content-Type"] = "application/json"
    response._content = json.dumps(body if body is not None else {}).encode()
    return response


class FakeImageAdapter:
    """Stands in for ``conn.image`` (a keystoneauth adapter): records requests, answers from a handler."""

    def __init__(self, handler: Callable[[str, str, list], requests.Response]) -> None:
        self.handler = handler
        self.calls: list[tuple[str, str, list]] = []

    def request(self, path: str, method: str, params: Any = None, raise_exc: bool = True, **_: Any) -> requests.Response:
        params = list(params.items()) if isinstance(params, dict) else list(params or [])
        self.calls.append((method, path, params))
        return self.handler(method, path, params)


class FakeConnection:
    def __init__(self, handler: Callable[[str, str, list], requests.Response]) -> None:
        self.image = FakeImageAdapter(handler)


def glance_lister(images: list[dict[str, Any]]) -> Callable[[str, str, list], requests.Response]:
    """A GET /images handler that filters by exact name and pages with limit/marker like Glance."""

    def handler(method: str, path: str, params: list) -> requests.Response:
        query = dict(params)
        if path.startswith("/images/"):
            image_id = path.split("/")[2]
            match = [image for image in images if image["id"] == image_id]
            return make_response(200, match[0]) if match else make_response(404, {"message": "not found"})
        selected = [image for image in images if all(
            str(image.get(key)).lower() == value.lower() for key, value in params
            if key not in ("limit", "marker", "sort", "id"))]
        if "id" in query:
            selected = [image for image in selected if image["id"] == query["id"].removeprefix("in:")]
        start = 0
        if "marker" in query:
            start = [image["id"] for image in selected].index(query["marker"]) + 1
        limit = int(query.get("limit", 25))
        page = selected[start:start + limit]
        body: dict[str, Any] = {"images": page}
        if start + limit < len(selected):
            body["next"] = "/v2/images?" + urlencode({"marker": page[-1]["id"], "limit": limit})
        return make_response(200, body)

    return handler


def raw_image(number: int, **extra: Any) -> dict[str, Any]:
    image = {
        "id": f"00000000-0000-0000-0000-{number:012d}", "name": f"image-{number}", "status": "active",
        "size": 10, "virtual_size": None, "disk_format": "raw", "container_format": "bare",
        "visibility": "private", "protected": False, "os_hidden": False, "owner": "p1", "tags": [],
        "checksum": "c", "os_hash_algo": "sha512", "os_hash_value": "h", "min_disk": 0, "min_ram": 0,
        "created_at": f"2026-01-01T00:00:{number % 60:02d}Z", "updated_at": "2026-01-01T00:00:00Z",
        "stores": "fs", "file": "/v2/images/x/file", "schema": "/v2/schemas/image", "self": "/v2/images/x",
    }
    image.update(extra)
    return image


@pytest.fixture
def fake_cloud(monkeypatch: pytest.MonkeyPatch):
    """Patches openstack.connect to return a FakeConnection over the given images; returns the connection."""

    def install(images: list[dict[str, Any]]) -> FakeConnection:
        connection = FakeConnection(glance_lister(images))
        import openstack
        monkeypatch.setattr(openstack, "connect", lambda **kwargs: connection)
        return connection

    return install
