# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""image_fetch, controller side: look the image up with openstacksdk, then run the download module
on the managed host with the data URL, a token and the expected size and hashes.

The managed host needs no openstacksdk. The token travels as a no_log module option and is never
part of the result.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from ansible.module_utils.basic import FILE_COMMON_ARGUMENTS
from ansible.plugins.action import ActionBase

from ansible_collections.glance.images.plugins.module_utils._base import (
    ImageOperationError,
    build_connection_kwargs,
    describe_sdk_error,
    sdk_error_types,
)
from ansible_collections.glance.images.plugins.module_utils._fetch import (
    CONNECTION_ARGUMENT_SPEC,
    DEFAULT_READ_TIMEOUT,
    FETCH_ARGUMENT_SPEC,
)
from ansible_collections.glance.images.plugins.module_utils._glance import GlanceAPI, image_to_dict

try:
    import openstack
except ImportError:
    openstack = None

MODULE_NAME = "glance.images.image_fetch"
# Testing only: replaces scheme://host:port of the data URL (routes the download through a test proxy).
TEST_ENDPOINT_VARIABLE = "glance_images_fetch_test_endpoint"
_VERSION_SUFFIX = re.compile(r"/v2(\.\d+)?$")


def public_argument_spec() -> dict[str, Any]:
    spec = dict(CONNECTION_ARGUMENT_SPEC)
    spec.update(FETCH_ARGUMENT_SPEC)
    spec.update(FILE_COMMON_ARGUMENTS)
    return spec


def select_image(images: list[dict[str, Any]], wanted: str) -> dict[str, Any]:
    """The one active image among ``images`` (found by name or ID), or a clear ImageOperationError."""
    if not images:
        raise ImageOperationError("fetch", wanted, "no image has this name or ID")
    if len(images) > 1:
        ids = ", ".join(raw["id"] for raw in images)
        raise ImageOperationError("fetch", wanted, f"{len(images)} images have this name ({ids}); give the ID instead")
    raw = images[0]
    status = raw.get("status")
    if status == "deactivated":
        raise ImageOperationError("fetch", wanted, f"image {raw['id']} is deactivated, and Glance serves no data "
                                  "of deactivated images (an administrator can reactivate it)")
    if status != "active":
        raise ImageOperationError("fetch", wanted, f"image {raw['id']} is {status}, not active; "
                                  "only active images have data to download")
    return raw


def check_store(raw: dict[str, Any], store: str | None) -> None:
    if not store:
        return
    stores = image_to_dict(raw)["stores"]
    if "stores" not in raw:
        raise ImageOperationError("fetch", raw.get("name"), f"store {store} was requested, but this cloud "
                                  "does not report stores (multiple stores are not enabled)")
    if store not in stores:
        raise ImageOperationError("fetch", raw.get("name"), f"image {raw['id']} has no data in store {store} "
                                  f"(its stores: {', '.join(stores) or 'none'})")


def data_url(endpoint: str, image_id: str, store: str | None, test_endpoint: str | None = None) -> str:
    """``<image endpoint without /v2>/v2/images/<id>/file``, with ``?prefer=<store>`` when asked."""
    root = _VERSION_SUFFIX.sub("", endpoint.rstrip("/"))
    url = f"{root}/v2/images/{quote(image_id, safe='')}/file"
    if store:
        url += f"?prefer={quote(store, safe='')}"
    if test_endpoint:
        override = urlsplit(test_endpoint)
        parts = urlsplit(url)
        url = urlunsplit((override.scheme, override.netloc, parts.path, parts.query, ""))
    return url


def tls_settings(session: Any) -> dict[str, Any]:
    """validate_certs and the CA bundle's contents for the managed host, from the SDK session's verify."""
    verify = getattr(session, "verify", True)
    if isinstance(verify, str):
        with open(verify, encoding="utf-8") as bundle:
            return dict(validate_certs=True, _ca_data=bundle.read())
    return dict(validate_certs=verify is not False)


def resolve(params: dict[str, Any], test_endpoint: str | None) -> dict[str, Any]:
    """Internal module options describing the image data, resolved through openstacksdk."""
    wanted = params["image"]
    if openstack is None:
        raise ImageOperationError("fetch", wanted, "openstacksdk is required on the controller (pip install openstacksdk)")
    try:
        conn = openstack.connect(app_name="glance.images", **build_connection_kwargs(params, "fetch", wanted))
        raw = select_image(GlanceAPI(conn).find_images(wanted), wanted)
        check_store(raw, params["store"])
        endpoint = conn.image.get_endpoint()
        token = conn.auth_token
    except sdk_error_types() as error:
        raise ImageOperationError("fetch", wanted, describe_sdk_error(error)) from error
    if raw.get("size") is None:
        raise ImageOperationError("fetch", wanted, f"image {raw['id']} has no data")
    internal = dict(
        _url=data_url(endpoint, raw["id"], params["store"], test_endpoint),
        _token=token,
        _size=raw["size"],
        _os_hash_algo=raw.get("os_hash_algo"),
        _os_hash_value=raw.get("os_hash_value"),
        _checksum_md5=raw.get("checksum"),
        _image_name=raw.get("name") or "",
        _image_id=raw["id"],
        _read_timeout=params.get("api_timeout") or DEFAULT_READ_TIMEOUT,
    )
    internal.update(tls_settings(conn.session))
    return internal


def module_arguments(params: dict[str, Any], internal: dict[str, Any]) -> dict[str, Any]:
    """What the module on the managed host gets: the fetch and file options, never the cloud credentials."""
    args = {key: params[key] for key in list(FETCH_ARGUMENT_SPEC) + list(FILE_COMMON_ARGUMENTS)
            if params.get(key) is not None}
    args.update(internal)
    return args


def scrub(result: dict[str, Any]) -> dict[str, Any]:
    """Drop the internal options from the echoed invocation (the token is masked there already)."""
    module_args = result.get("invocation", {}).get("module_args")
    if isinstance(module_args, dict):
        for key in [key for key in module_args if key.startswith("_")]:
            del module_args[key]
    return result


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = True

    def _test_endpoint(self, task_vars: dict[str, Any]) -> str | None:
        value = task_vars.get(TEST_ENDPOINT_VARIABLE)
        return str(self._templar.template(value)) if value else None

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _validation, params = self.validate_argument_spec(argument_spec=public_argument_spec())
        try:
            internal = resolve(params, self._test_endpoint(task_vars))
        except ImageOperationError as error:
            result.update(failed=True, msg=error.message)
            return result
        except OSError as error:
            result.update(failed=True, msg=f"Failed to fetch image {params['image']}: cannot read the CA bundle: {error}")
            return result
        wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
        result.update(self._execute_module(module_name=MODULE_NAME, module_args=module_arguments(params, internal),
                                           task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return scrub(result)
