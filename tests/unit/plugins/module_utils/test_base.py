from __future__ import annotations

from typing import Any

from openstack import exceptions as sdk_exceptions

from ansible_collections.glance.images.plugins.module_utils import _base
from ansible_collections.glance.images.plugins.module_utils._base import (
    GlanceModule,
    ImageOperationError,
    describe_sdk_error,
    parse_version,
    secret_values,
)
from ansible_collections.glance.images.tests.unit.conftest import make_response
from ansible_collections.glance.images.tests.unit.helpers import run_module


class EchoModule(GlanceModule):
    argument_spec = dict(name=dict(type="str"), explode=dict(type="str"))
    module_kwargs = dict(supports_check_mode=True)
    default_verb = "inspect"

    def run(self) -> dict[str, Any]:
        if self.params["explode"] == "http":
            with self.doing("upload"):
                sdk_exceptions.raise_from_response(make_response(409, {"message": "Image storage media is full"}))
        if self.params["explode"] == "auth":
            self.conn.authorize()
        if self.params["explode"] == "plain":
            self.fail("delete", "it is protected")
        return dict(changed=False, connection=self.connection_kwargs())


def main() -> None:
    EchoModule()()


def test_connection_options_map_to_sdk_names(capsys):
    code, result = run_module(main, {
        "cloud": "mycloud", "region_name": "RegionTwo", "validate_certs": False, "ca_cert": "/ca.pem",
        "client_cert": "/c.pem", "client_key": "/k.pem", "api_timeout": 30, "interface": "internal",
    }, capsys)
    assert code == 0
    assert result["connection"] == {
        "cloud": "mycloud", "region_name": "RegionTwo", "verify": False, "cacert": "/ca.pem",
        "cert": "/c.pem", "key": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", "api_timeout": 30, "interface": "internal",
    }


def test_cloud_dict_is_merged_and_its_secrets_are_masked(capsys):
    cloud = {"auth": {"auth_url": "http://k/v3", "username": "u", "password": "s3cr3t-pw"}, "region_name": "R1"}
    code, result = run_module(main, {"cloud": cloud, "region_name": "R2"}, capsys)
    assert code == 0
    assert result["connection"]["region_name"] == "R2"
    assert "s3cr3t-pw" not in str(result)


def test_sdk_http_errors_become_one_readable_message(capsys):
    code, result = run_module(main, {"name": "ubuntu", "explode": "http"}, capsys)
    assert code == 1
    assert result["msg"] == "Failed to upload image ubuntu: HTTP 409: Image storage media is full"
    assert "Image storage media is full" in result["msg"]
    assert "Traceback" not in result["msg"]


def test_connection_errors_use_the_module_verb(capsys, monkeypatch):
    import openstack

    def refuse(**kwargs):
        raise sdk_exceptions.ConfigException("Cloud nowhere was not found.")

    monkeypatch.setattr(openstack, "connect", refuse)
    code, result = run_module(main, {"name": "ubuntu", "cloud": "nowhere", "explode": "auth"}, capsys)
    assert code == 1
    assert result["msg"] == "Failed to inspect image ubuntu: Cloud nowhere was not found."


def test_plain_failures_name_verb_and_image(capsys):
    code, result = run_module(main, {"name": "db", "explode": "plain"}, capsys)
    assert result["msg"] == "Failed to delete image db: it is protected"


def test_cloud_must_be_name_or_dict(capsys):
    code, result = run_module(main, {"cloud": ["x"]}, capsys)
    assert code == 1
    assert "cloud must be a cloud name or a dictionary" in result["msg"]


def test_missing_sdk_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setattr(_base, "openstack", None)
    code, result = run_module(main, {}, capsys)
    assert code == 1
    assert "openstacksdk" in result["msg"]


def test_old_sdk_is_a_clear_error(capsys, monkeypatch):
    class Old:
        __version__ = "0.61.0"

    monkeypatch.setattr(_base, "installed_sdk_version", lambda: Old.__version__)
    code, result = run_module(main, {}, capsys)
    assert code == 1
    assert "openstacksdk >= 1.0.0 is required, but 0.61.0 is installed" in result["msg"]


def test_helpers():
    assert parse_version("4.22.0") == (4, 22, 0)
    assert parse_version("1.0.0rc1") == (1, 0, 0)
    assert secret_values({"auth": {"password": "p", "username": "u"}, "token": "t", "x": [{"secret": "s"}]}) == ["p", "t", "s"]
    assert ImageOperationError("list", None, "x").message == "Failed to list images: x"
    assert describe_sdk_error(ValueError("a\n  b")) == "a b"


def test_html_error_bodies_are_reduced_to_their_explanation():
    response = make_response(400)
    response._content = b"<html><head><title>400 Bad Request</title></head><body><h1>400 Bad Request</h1>Invalid sort key: foo<br />\n</body></html>"
    response.headers["Content-Type"] = "text/html"
    try:
        sdk_exceptions.raise_from_response(response)
    except sdk_exceptions.HttpException as error:
        assert describe_sdk_error(error) == "HTTP 400 Bad Request: Invalid sort key: foo"
