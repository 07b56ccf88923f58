# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin helpers over Glance's v2 REST API, used through an openstacksdk connection.

Images are handled as Glance returns them (API names, custom properties at top level), so
what the modules return and compare is exactly what Glance stores.
"""
from __future__ import annotations

import re
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

try:
    from openstack import exceptions as sdk_exceptions
except ImportError:
    sdk_exceptions = None

IMAGE_FIELDS = (
    "id", "name", "status", "size", "virtual_size", "disk_format", "container_format",
    "visibility", "protected", "os_hidden", "owner", "tags", "checksum", "os_hash_algo",
    "os_hash_value", "min_disk", "min_ram", "created_at", "updated_at",
)
# Keys of Glance's image JSON that are neither returned fields nor custom properties.
_NON_PROPERTY_KEYS = frozenset(("stores", "file", "schema", "self", "locations", "direct_url", "properties"))
_RESERVED_PROPERTY_PREFIX = "os_glance_"

# Filters Glance understands natively; any other key filters on a custom property.
NATIVE_FILTERS = frozenset((
    "name", "id", "status", "visibility", "owner", "tag", "member_status", "protected", "os_hidden",
    "disk_format", "container_format", "size_min", "size_max", "created_at", "updated_at",
    "checksum", "os_hash_value",
))
# Image attributes and query keys that Glance cannot filter by, with what to use instead.
UNFILTERABLE = {
    "size": "use size_min and size_max",
    "virtual_size": "Glance cannot filter by virtual_size",
    "min_disk": "Glance cannot filter by min_disk",
    "min_ram": "Glance cannot filter by min_ram",
    "tags": "use tag (a list: every tag must match)",
    "stores": "Glance cannot filter by stores",
    "locations": "Glance cannot filter by locations",
    "direct_url": "Glance cannot filter by direct_url",
    "file": "Glance cannot filter by file",
    "schema": "Glance cannot filter by schema",
    "self": "Glance cannot filter by self",
    "properties": "give each custom property as its own filter key",
    "os_hash_algo": "Glance cannot filter by os_hash_algo",
    "limit": "use the limit option",
    "marker": "pagination is followed automatically",
    "sort": "use the sort option",
    "sort_key": "use the sort option",
    "sort_dir": "use the sort option",
}
MAX_PAGE_SIZE = 1000
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


class FilterError(ValueError):
    pass


def looks_like_id(value: str) -> bool:
    return bool(_UUID.match(value))


def image_to_dict(raw: dict[str, Any]) -> dict[str, Any]:
    """The image as glance.images modules return it: Glance API names plus ``stores`` and ``properties``."""
    image = {field: raw.get(field) for field in IMAGE_FIELDS}
    image["tags"] = sorted(raw.get("tags") or [])
    stores = raw.get("stores") or ""
    image["stores"] = [store for store in stores.split(",") if store] if isinstance(stores, str) else list(stores)
    image["properties"] = custom_properties(raw)
    return image


def custom_properties(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value for key, value in raw.items()
        if key not in IMAGE_FIELDS and key not in _NON_PROPERTY_KEYS and not key.startswith(_RESERVED_PROPERTY_PREFIX)
    }


def _filter_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise FilterError(f"filter {key} must be a single value, not {type(value).__name__}")


def build_query(filters: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Glance query parameters for ``filters``; raises FilterError for what Glance cannot filter by."""
    query: list[tuple[str, str]] = []
    for key, value in (filters or {}).items():
        if key in UNFILTERABLE:
            raise FilterError(f"cannot filter by {key}: {UNFILTERABLE[key]}")
        if key.startswith(_RESERVED_PROPERTY_PREFIX):
            raise FilterError(f"cannot filter by {key}: properties starting with {_RESERVED_PROPERTY_PREFIX} are reserved")
        if value is None:
            continue
        if key == "tag":
            tags = value if isinstance(value, list) else [value]
            query.extend(("tag", _filter_value(key, tag)) for tag in tags)
        else:
            query.append((key, _filter_value(key, value)))
    return query


def name_filter(name: str) -> str:
    """An exact-match value for Glance's name filter (a leading ``in:`` would be read as an operator)."""
    if name.startswith("in:") or name.startswith("neq:"):
        return 'in:"' + name.replace('"', '\\"') + '"'
    return name


class GlanceAPI:
    """Raw Glance v2 calls through the connection's image adapter, errors raised as SDK exceptions."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.adapter = conn.image

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("raise_exc", False)
        response = self.adapter.request(path, method, **kwargs)
        sdk_exceptions.raise_from_response(response)
        return response

    def get_json(self, path: str, params: Any = None) -> Any:
        return self.request("GET", path, params=params).json()

    def iter_images(self, query: list[tuple[str, str]], sort: str | None = None, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Every image matching ``query``, following Glance's marker pagination (one request per page)."""
        returned = 0
        marker: str | None = None
        while limit is None or returned < limit:
            page_size = MAX_PAGE_SIZE if limit is None else min(MAX_PAGE_SIZE, limit - returned)
            params = list(query) + [("limit", str(page_size))]
            if sort:
                params.append(("sort", sort))
            if marker:
                params.append(("marker", marker))
            body = self.get_json("/images", params=params)
            images = body.get("images", [])
            for raw in images[: None if limit is None else limit - returned]:
                returned += 1
                yield raw
            marker = _next_marker(body.get("next"))
            if not images or not marker:
                return

    def get_image(self, image_id: str) -> dict[str, Any] | None:
        response = self.adapter.request(f"/images/{image_id}", "GET", raise_exc=False)
        if response.status_code == 404:
            return None
        sdk_exceptions.raise_from_response(response)
        return response.json()

    def images_named(self, name: str) -> list[dict[str, Any]]:
        """Every image with exactly this name that the user can see, hidden ones included."""
        found: dict[str, dict[str, Any]] = {}
        for hidden in ("false", "true"):
            for raw in self.iter_images([("name", name_filter(name)), ("os_hidden", hidden)]):
                if raw.get("name") == name:
                    found[raw["id"]] = raw
        return sorted(found.values(), key=lambda raw: raw.get("created_at") or "")

    def find_images(self, name_or_id: str) -> list[dict[str, Any]]:
        """Images matching an ID, else an exact name."""
        if looks_like_id(name_or_id):
            raw = self.get_image(name_or_id)
            if raw is not None:
                return [raw]
        return self.images_named(name_or_id)

    def create_image(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/images", json=body).json()

    def update_image(self, image_id: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply JSON-patch operations (see _metadata.metadata_patch); returns the updated image."""
        headers = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
        return self.request("PATCH", f"/images/{image_id}", json=operations, headers=headers).json()

    def delete_image(self, image_id: str) -> None:
        """Delete an image; one that is already gone is fine."""
        response = self.adapter.request(f"/images/{image_id}", "DELETE", raise_exc=False)
        if response.status_code != 404:
            sdk_exceptions.raise_from_response(response)

    def import_methods(self) -> list[str]:
        return list(self.get_json("/info/import").get("import-methods", {}).get("value", []))

    def stores(self) -> list[dict[str, Any]]:
        return list(self.get_json("/info/stores").get("stores", []))

    def image_tasks(self, image_id: str) -> list[dict[str, Any]]:
        return list(self.get_json(f"/images/{image_id}/tasks").get("tasks", []))


def _next_marker(next_link: str | None) -> str | None:
    if not next_link:
        return None
    markers = parse_qs(urlsplit(next_link).query).get("marker")
    return markers[0] if markers else None
