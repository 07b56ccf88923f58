# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image metadata options shared by image_upload and image_import: what to create with, and
which JSON-patch operations bring an existing image to the wanted state.

Values are compared as Glance stores them: custom properties are strings in Glance, so
``hw_cpu_cores: 2`` and ``"2"`` are the same and do not make a change on every run.
"""
from __future__ import annotations

from typing import Any

DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
VISIBILITIES = ["public", "community", "shared", "private"]

METADATA_ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    disk_format=dict(type="str", choices=DISK_FORMATS),
    container_format=dict(type="str", choices=CONTAINER_FORMATS, default="bare"),
    visibility=dict(type="str", choices=VISIBILITIES),
    protected=dict(type="bool"),
    hidden=dict(type="bool"),
    min_disk=dict(type="int"),
    min_ram=dict(type="int"),
    tags=dict(type="list", elements="str"),
    properties=dict(type="dict"),
)

# Module option -> Glance attribute, for the attributes that can change after creation.
_MUTABLE_ATTRIBUTES = (
    ("visibility", "visibility"),
    ("protected", "protected"),
    ("hidden", "os_hidden"),
    ("min_disk", "min_disk"),
    ("min_ram", "min_ram"),
)
# Only settable while the image has no data.
_FORMAT_ATTRIBUTES = (("disk_format", "disk_format"), ("container_format", "container_format"))

RESERVED_PROPERTIES = frozenset((
    "id", "name", "status", "size", "virtual_size", "disk_format", "container_format", "visibility",
    "protected", "os_hidden", "owner", "tags", "checksum", "os_hash_algo", "os_hash_value", "min_disk",
    "min_ram", "created_at", "updated_at", "stores", "file", "schema", "self", "locations", "direct_url",
))


class MetadataError(ValueError):
    pass


def glance_string(value: Any) -> str:
    """A custom property value as Glance stores it (always a string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _same_property(stored: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool) and isinstance(stored, str):
        return stored.strip().lower() in (("true", "yes", "1") if wanted else ("false", "no", "0"))
    return stored == glance_string(wanted)


def wanted_properties(params: dict[str, Any]) -> dict[str, Any]:
    properties = params.get("properties") or {}
    for key in properties:
        if key in RESERVED_PROPERTIES or key.startswith("os_glance_"):
            raise MetadataError(f"property {key} is reserved; use the module option for it, if there is one")
    return properties


def create_attributes(params: dict[str, Any], name: str) -> dict[str, Any]:
    """Body of ``POST /v2/images`` for a new image with the given options."""
    body: dict[str, Any] = {"name": name}
    for option, attribute in _FORMAT_ATTRIBUTES + _MUTABLE_ATTRIBUTES:
        if params.get(option) is not None:
            body[attribute] = params[option]
    if params.get("tags") is not None:
        body["tags"] = sorted(set(params["tags"]))
    for key, value in wanted_properties(params).items():
        body[key] = glance_string(value)
    return body


def metadata_patch(raw: dict[str, Any], params: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """JSON-patch operations that bring image ``raw`` to the options; plus before/after of what changes.

    Options not given (None) are left alone; properties not named are left alone;
    ``tags`` makes the image end with exactly these tags.
    """
    operations: list[dict[str, Any]] = []
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for option, attribute in _MUTABLE_ATTRIBUTES:
        wanted = params.get(option)
        if wanted is not None and raw.get(attribute) != wanted:
            operations.append({"op": "replace", "path": f"/{attribute}", "value": wanted})
            before[attribute], after[attribute] = raw.get(attribute), wanted
    if params.get("tags") is not None:
        wanted_tags = sorted(set(params["tags"]))
        if sorted(raw.get("tags") or []) != wanted_tags:
            operations.append({"op": "replace", "path": "/tags", "value": wanted_tags})
            before["tags"], after["tags"] = sorted(raw.get("tags") or []), wanted_tags
    for key, value in wanted_properties(params).items():
        if key in raw and _same_property(raw[key], value):
            continue
        operations.append({"op": "replace" if key in raw else "add", "path": f"/{key}", "value": glance_string(value)})
        before.setdefault("properties", {})[key] = raw.get(key)
        after.setdefault("properties", {})[key] = glance_string(value)
    return operations, before, after


def format_conflicts(raw: dict[str, Any], params: dict[str, Any]) -> list[str]:
    """Formats asked for that differ from an image that already has data (Glance cannot change them)."""
    conflicts = []
    for option, attribute in _FORMAT_ATTRIBUTES:
        wanted = params.get(option)
        if wanted is not None and raw.get(attribute) not in (None, wanted):
            conflicts.append(f"{attribute} is {raw.get(attribute)}, not {wanted}")
    return conflicts
