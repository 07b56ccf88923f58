from __future__ import annotations

from ansible_collections.glance.images.plugins.modules import image_info
from ansible_collections.glance.images.tests.unit.conftest import raw_image
from ansible_collections.glance.images.tests.unit.helpers import run_module


def test_lists_every_page(fake_cloud, capsys):
    conn = fake_cloud([raw_image(n) for n in range(1500)])
    code, result = run_module(image_info.main, {}, capsys)
    assert code == 0 and result["changed"] is False
    assert len(result["images"]) == 1500
    assert len(conn.image.calls) == 2


def test_nothing_found_is_an_empty_list(fake_cloud, capsys):
    fake_cloud([raw_image(1)])
    code, result = run_module(image_info.main, {"image": "missing"}, capsys)
    assert code == 0 and result["images"] == []


def test_filters_and_sort_are_sent_to_glance(fake_cloud, capsys):
    conn = fake_cloud([raw_image(1, status="queued"), raw_image(2)])
    code, result = run_module(image_info.main, {"filters": {"status": "active", "tag": ["a", "b"]}, "sort": "name:asc", "limit": 5}, capsys)
    assert code == 0
    method, path, params = conn.image.calls[0]
    assert ("status", "active") in params and ("sort", "name:asc") in params
    assert [v for k, v in params if k == "tag"] == ["a", "b"]


def test_unknown_filter_is_a_clear_error(fake_cloud, capsys):
    fake_cloud([])
    code, result = run_module(image_info.main, {"filters": {"tags": ["x"]}}, capsys)
    assert code == 1
    assert result["msg"] == "Failed to list images: cannot filter by tags: use tag (a list: every tag must match)"


def test_image_by_name_includes_hidden_and_returns_api_shape(fake_cloud, capsys):
    fake_cloud([raw_image(1, name="web", os_hidden=True, distro="debian"), raw_image(2, name="web")])
    code, result = run_module(image_info.main, {"name": "web"}, capsys)
    assert code == 0
    assert len(result["images"]) == 2
    hidden = [image for image in result["images"] if image["os_hidden"]][0]
    assert hidden["properties"] == {"distro": "debian"}
    assert hidden["stores"] == ["fs"]


def test_image_by_id(fake_cloud, capsys):
    images = [raw_image(1), raw_image(2)]
    fake_cloud(images)
    code, result = run_module(image_info.main, {"image": images[1]["id"]}, capsys)
    assert [image["id"] for image in result["images"]] == [images[1]["id"]]


def test_limit_must_be_positive(fake_cloud, capsys):
    fake_cloud([])
    code, result = run_module(image_info.main, {"limit": 0}, capsys)
    assert code == 1 and "limit must be a positive number" in result["msg"]
