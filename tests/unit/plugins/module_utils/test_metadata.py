from __future__ import annotations

import pytest

from ansible_collections.glance.images.plugins.module_utils._metadata import (
    MetadataError,
    create_attributes,
    format_conflicts,
    metadata_patch,
)
from ansible_collections.glance.images.tests.unit.conftest import raw_image


def test_properties_compare_as_glance_stores_them():
    raw = raw_image(1, hw_cpu_cores="2", hw_qemu_guest_agent="True")
    operations, before, after = metadata_patch(raw, {"properties": {"hw_cpu_cores": 2, "hw_qemu_guest_agent": True}})
    assert operations == [] and before == {} and after == {}


def test_only_what_differs_is_patched_and_unnamed_properties_stay():
    raw = raw_image(1, a="1", keep="x", tags=["old", "same"], visibility="private")
    operations, before, after = metadata_patch(raw, {"properties": {"a": "2", "b": 3}, "tags": ["same", "new"], "visibility": None})
    assert {"op": "replace", "path": "/a", "value": "2"} in operations
    assert {"op": "add", "path": "/b", "value": "3"} in operations
    assert {"op": "replace", "path": "/tags", "value": ["new", "same"]} in operations
    assert not any(op["path"] in ("/keep", "/visibility") for op in operations)
    assert before == {"properties": {"a": "1", "b": None}, "tags": ["old", "same"]}
    assert after == {"properties": {"a": "2", "b": "3"}, "tags": ["new", "same"]}


def test_hidden_maps_to_os_hidden():
    operations, before, after = metadata_patch(raw_image(1), {"hidden": True, "protected": False})
    assert operations == [{"op": "replace", "path": "/os_hidden", "value": True}]


def test_create_attributes():
    body = create_attributes({"disk_format": "qcow2", "container_format": "bare", "hidden": True,
                              "tags": ["b", "a", "a"], "properties": {"n": 2}}, "img")
    assert body == {"name": "img", "disk_format": "qcow2", "container_format": "bare", "os_hidden": True,
                    "tags": ["a", "b"], "n": "2"}


def test_reserved_properties_are_refused():
    with pytest.raises(MetadataError, match="property size is reserved"):
        create_attributes({"properties": {"size": 1}}, "img")


def test_format_conflicts():
    assert format_conflicts(raw_image(1, disk_format="raw"), {"disk_format": "qcow2"}) == ["disk_format is raw, not qcow2"]
    assert format_conflicts(raw_image(1), {"disk_format": "raw", "container_format": "bare"}) == []
