from __future__ import annotations

import pytest

from ansible_collections.glance.images.plugins.action import image_fetch as action
from ansible_collections.glance.images.plugins.module_utils._base import ImageOperationError
from ansible_collections.glance.images.tests.unit.conftest import glance_lister, raw_image


class FakeSession:
    verify = True


class FakeImageService:
    def __init__(self, images):
        self.handler = glance_lister(images)

    def request(self, path, method, params=None, raise_exc=True, **_):
        params = list(params.items()) if isinstance(params, dict) else list(params or [])
        return self.handler(method, path, params)

    def get_endpoint(self):
        return "https://glance.example:9292/v2/"


class FakeConnection:
    auth_token = "secret-token"

    def __init__(self, images):
        self.image = FakeImageService(images)
        self.session = FakeSession()


@pytest.fixture
def cloud(monkeypatch):
    def install(images):
        connection = FakeConnection(images)
        monkeypatch.setattr(action.openstack, "connect", lambda **kwargs: connection)
        return connection
    return install


def params(**extra):
    base = {key: None for key in action.public_argument_spec()}
    base.update(image="web", dest="/tmp/web", force=False, resume=True, retries=3, chunk_size=4194304)
    base.update(extra)
    return base


@pytest.mark.parametrize("endpoint", [
    "https://glance.example:9292", "https://glance.example:9292/", "https://glance.example:9292/v2",
    "https://glance.example:9292/v2/", "https://glance.example:9292/v2.0/"])
def test_data_url_with_or_without_version(endpoint):
    assert action.data_url(endpoint, "abc", None) == "https://glance.example:9292/v2/images/abc/file"


def test_data_url_keeps_a_path_prefix_and_prefers_a_store():
    url = action.data_url("https://cloud.example/image/v2/", "abc", "fast")
    assert url == "https://cloud.example/image/v2/images/abc/file?prefer=fast"


def test_test_endpoint_replaces_scheme_host_and_port():
    url = action.data_url("https://glance.example:9292/v2/", "abc", None, "http://127.0.0.1:4000")
    assert url == "http://127.0.0.1:4000/v2/images/abc/file"


def test_resolve_hands_over_what_the_module_needs(cloud):
    cloud([raw_image(1, name="web", size=10, os_hash_value="ab" * 64, checksum="cd" * 16)])
    internal = action.resolve(params(), None)
    assert internal["_url"] == "https://glance.example:9292/v2/images/00000000-0000-0000-0000-000000000001/file"
    assert internal["_token"] == "secret-token" and internal["_size"] == 10
    assert internal["_os_hash_algo"] == "sha512" and internal["_checksum_md5"] == "cd" * 16
    assert internal["_image_name"] == "web" and internal["validate_certs"] is True


def test_two_images_of_that_name_list_their_ids(cloud):
    cloud([raw_image(1, name="web"), raw_image(2, name="web")])
    with pytest.raises(ImageOperationError) as error:
        action.resolve(params(), None)
    assert "2 images have this name" in error.value.message
    assert "00000000-0000-0000-0000-000000000001" in error.value.message
    assert "00000000-0000-0000-0000-000000000002" in error.value.message


@pytest.mark.parametrize("status,text", [("deactivated", "is deactivated"), ("queued", "is queued, not active")])
def test_inactive_images_are_refused(cloud, status, text):
    cloud([raw_image(1, name="web", status=status)])
    with pytest.raises(ImageOperationError, match=text):
        action.resolve(params(), None)


def test_missing_image(cloud):
    cloud([])
    with pytest.raises(ImageOperationError, match="no image has this name or ID"):
        action.resolve(params(), None)


def test_store_must_hold_the_image(cloud):
    cloud([raw_image(1, name="web", stores="fs,fs2")])
    assert action.resolve(params(store="fs2"), None)["_url"].endswith("/file?prefer=fs2")
    with pytest.raises(ImageOperationError, match=r"no data in store cold \(its stores: fs, fs2\)"):
        action.resolve(params(store="cold"), None)


def test_ca_bundle_is_read_on_the_controller(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("PEM DATA")
    session = FakeSession()
    session.verify = str(bundle)
    assert action.tls_settings(session) == dict(validate_certs=True, _ca_data="PEM DATA")
    session.verify = False
    assert action.tls_settings(session) == dict(validate_certs=False)


def test_module_gets_no_credentials():
    args = action.module_arguments(params(cloud={"auth": {"password": "pw"}}, auth={"password": "pw"}, mode="0644"),
                                   {"_token": "t"})
    assert "cloud" not in args and "auth" not in args and "pw" not in str(args)
    assert args["mode"] == "0644" and args["_token"] == "t"


def test_scrub_removes_internal_options_from_invocation():
    result = {"invocation": {"module_args": {"dest": "/x", "_token": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", "_url": "u"}}}
    assert action.scrub(result) == {"invocation": {"module_args": {"dest": "/x"}}}
