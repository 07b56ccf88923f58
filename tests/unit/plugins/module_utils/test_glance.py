from __future__ import annotations

import pytest

from ansible_collections.glance.images.plugins.module_utils._glance import (
    FilterError,
    GlanceAPI,
    build_query,
    image_to_dict,
    looks_like_id,
    name_filter,
)
from ansible_collections.glance.images.tests.unit.conftest import FakeConnection, glance_lister, raw_image


def test_image_to_dict_uses_glance_names_and_separates_properties():
    raw = raw_image(1, stores="fs,fs2", tags=["b", "a"], hw_cpu_cores="2", os_glance_import_task="t")
    image = image_to_dict(raw)
    assert image["stores"] == ["fs", "fs2"]
    assert image["tags"] == ["a", "b"]
    assert image["properties"] == {"hw_cpu_cores": "2"}
    assert image["os_hash_algo"] == "sha512"
    assert "file" not in image and "schema" not in image


def test_image_without_stores_has_empty_list():
    assert image_to_dict(raw_image(1, stores=None))["stores"] == []


def test_build_query_converts_values_and_repeats_tags():
    query = build_query({"status": "active", "protected": True, "size_min": 5, "tag": ["a", "b"], "distro": "x"})
    assert ("protected", "true") in query and ("size_min", "5") in query
    assert [value for key, value in query if key == "tag"] == ["a", "b"]
    assert ("distro", "x") in query


@pytest.mark.parametrize("key", ["size", "tags", "stores", "min_ram", "limit", "marker", "sort_key", "os_glance_failed_import"])
def test_build_query_rejects_what_glance_cannot_filter(key):
    with pytest.raises(FilterError, match=f"cannot filter by {key}"):
        build_query({key: "1"})


def test_build_query_rejects_structured_values():
    with pytest.raises(FilterError, match="single value"):
        build_query({"distro": {"a": 1}})


def test_name_filter_protects_operator_prefixes():
    assert name_filter("plain") == "plain"
    assert name_filter("in:weird") == 'in:"in:weird"'


def test_looks_like_id():
    assert looks_like_id("00000000-0000-0000-0000-000000000001")
    assert not looks_like_id("ubuntu")


def test_pagination_is_followed_with_one_request_per_page():
    images = [raw_image(n) for n in range(2500)]
    conn = FakeConnection(glance_lister(images))
    listed = list(GlanceAPI(conn).iter_images([]))
    assert [image["id"] for image in listed] == [image["id"] for image in images]
    assert len(conn.image.calls) == 3


def test_limit_stops_early_and_asks_only_for_what_is_needed():
    images = [raw_image(n) for n in range(2500)]
    conn = FakeConnection(glance_lister(images))
    listed = list(GlanceAPI(conn).iter_images([], limit=1200))
    assert len(listed) == 1200
    assert [dict(params)["limit"] for _method, _path, params in conn.image.calls] == ["1000", "200"]


def test_images_named_includes_hidden_images_and_exact_names_only():
    images = [raw_image(1, name="a"), raw_image(2, name="a", os_hidden=True), raw_image(3, name="b")]
    conn = FakeConnection(glance_lister(images))
    found = GlanceAPI(conn).images_named("a")
    assert sorted(image["id"] for image in found) == [images[0]["id"], images[1]["id"]]


def test_find_images_by_id_then_by_name():
    images = [raw_image(1, name="a")]
    api = GlanceAPI(FakeConnection(glance_lister(images)))
    assert api.find_images(images[0]["id"]) == images
    assert api.find_images("a") == images
    assert api.find_images("00000000-0000-0000-0000-999999999999") == []
