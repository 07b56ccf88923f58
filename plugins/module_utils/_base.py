# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Base class of every glance.images module that talks to OpenStack through openstacksdk.

It merges the common connection options, builds the connection the way openstacksdk
does (clouds.yaml, OS_CLOUD, OS_CLIENT_CONFIG_FILE, OS_* variables), and turns every
SDK or HTTP error into one readable message: ``Failed to <verb> image <name>: <detail>``.
"""
from __future__ import annotations

import html
import re
import traceback
from contextlib import contextmanager
from importlib import metadata
from typing import Any, Iterator

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.glance.images.plugins.module_utils._options import (  # noqa: F401 (re-exported)
    COMMON_ARGUMENT_SPEC,
    WAIT_ARGUMENT_SPEC,
)

try:
    import openstack
    from openstack import exceptions as sdk_exceptions
except ImportError:
    openstack = None
    sdk_exceptions = None
    SDK_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    SDK_IMPORT_ERROR = None

try:
    from keystoneauth1 import exceptions as ksa_exceptions
except ImportError:
    ksa_exceptions = None

MINIMUM_SDK_VERSION = (1, 0, 0)

# Module option -> openstacksdk connection keyword.
_CONNECTION_KEYWORDS = (
    ("auth", "auth"),
    ("auth_type", "auth_type"),
    ("region_name", "region_name"),
    ("interface", "interface"),
    ("validate_certs", "verify"),
    ("ca_cert", "cacert"),
    ("client_cert", "cert"),
    ("client_key", "key"),
    ("api_timeout", "api_timeout"),
)

_SECRET_KEY_MARKERS = ("password", "secret", "token", "key")


class ImageOperationError(Exception):
    """A failure that the module reports as ``Failed to <verb> image <name>: <detail>``."""

    def __init__(self, verb: str, name: str | None, detail: str, **result: Any) -> None:
        self.verb = verb
        self.name = name
        self.detail = detail
        self.result = result
        super().__init__(self.message)

    @property
    def message(self) -> str:
        subject = f"image {self.name}" if self.name else "images"
        return f"Failed to {self.verb} {subject}: {self.detail}"


def parse_version(text: str) -> tuple[int, ...]:
    numbers = []
    for part in text.split(".")[:3]:
        match = re.match(r"\d+", part)
        numbers.append(int(match.group()) if match else 0)
    return tuple(numbers)


def installed_sdk_version() -> str:
    try:
        return metadata.version("openstacksdk")
    except metadata.PackageNotFoundError:
        return "0"


def _response_detail(response: Any) -> str:
    """The explanation a Glance or Keystone error response carries (JSON or HTML body)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        for key in ("message", "detail", "title"):
            if inner.get(key):
                return str(inner[key])
    text = html.unescape(re.sub(r"<[^>]+>", " ", getattr(response, "text", "") or ""))
    text = " ".join(text.split())
    reason = f"{response.status_code} {response.reason or ''}".strip()
    while reason and text.startswith(reason):
        text = text[len(reason):].strip()
    return text


def describe_sdk_error(error: BaseException) -> str:
    """One line that says what went wrong, without traceback."""
    response = getattr(error, "response", None)
    detail = _response_detail(response) if response is not None else ""
    if not detail:
        detail = getattr(error, "details", None) or getattr(error, "message", None) or str(error) or type(error).__name__
    detail = " ".join(str(detail).split())
    status = getattr(error, "status_code", None) or getattr(error, "http_status", None)
    if status:
        reason = getattr(response, "reason", "") or ""
        return f"HTTP {status} {reason}".rstrip() + (f": {detail}" if detail else "")
    return detail


def sdk_error_types() -> tuple[type[BaseException], ...]:
    types: list[type[BaseException]] = []
    if sdk_exceptions is not None:
        types.append(sdk_exceptions.SDKException)
    if ksa_exceptions is not None:
        types.append(ksa_exceptions.ClientException)
    return tuple(types)


def secret_values(config: Any) -> list[str]:
    """Leaf values of a cloud configuration whose keys name a secret."""
    found: list[str] = []
    if isinstance(config, dict):
        for key, value in config.items():
            if isinstance(value, (dict, list)):
                found.extend(secret_values(value))
            elif value not in (None, "") and any(marker in str(key).lower() for marker in _SECRET_KEY_MARKERS):
                found.append(str(value))
    elif isinstance(config, list):
        for item in config:
            found.extend(secret_values(item))
    return found


def build_connection_kwargs(params: dict[str, Any], verb: str = "manage", name: str | None = None) -> dict[str, Any]:
    """openstack.connect() keywords from the common options (also used by action plugins, without AnsibleModule)."""
    kwargs = {sdk_key: params.get(option) for option, sdk_key in _CONNECTION_KEYWORDS if params.get(option) is not None}
    cloud = params.get("cloud")
    if isinstance(cloud, dict):
        return dict(cloud, **kwargs)
    if cloud is not None and not isinstance(cloud, str):
        raise ImageOperationError(verb, name, "option cloud must be a cloud name or a dictionary")
    if cloud:
        kwargs["cloud"] = cloud
    return kwargs


class GlanceModule:
    """Subclasses set ``argument_spec``, ``module_kwargs`` and ``default_verb`` and implement ``run``."""

    argument_spec: dict[str, dict[str, Any]] = {}
    module_kwargs: dict[str, Any] = {}
    uses_wait = False
    default_verb = "manage"

    def __init__(self) -> None:
        spec = dict(COMMON_ARGUMENT_SPEC)
        if self.uses_wait:
            spec.update(WAIT_ARGUMENT_SPEC)
        spec.update(self.argument_spec)
        self.module = AnsibleModule(argument_spec=spec, **self.module_kwargs)
        self.params: dict[str, Any] = self.module.params
        self.module.no_log_values.update(secret_values(self.params.get("cloud")))
        self._connection: Any = None
        self._require_sdk()

    @property
    def check_mode(self) -> bool:
        return self.module.check_mode

    @property
    def image_name(self) -> str | None:
        return self.params.get("name") or self.params.get("image")

    def _require_sdk(self) -> None:
        if openstack is None:
            self.module.fail_json(msg=missing_required_lib("openstacksdk"), exception=SDK_IMPORT_ERROR)
        installed = installed_sdk_version()
        if parse_version(installed) < MINIMUM_SDK_VERSION:
            wanted = ".".join(str(n) for n in MINIMUM_SDK_VERSION)
            self.module.fail_json(msg=f"openstacksdk >= {wanted} is required, but {installed} is installed.")

    def connection_kwargs(self) -> dict[str, Any]:
        return build_connection_kwargs(self.params, self.default_verb, self.image_name)

    @property
    def conn(self) -> Any:
        if self._connection is None:
            self._connection = openstack.connect(app_name="glance.images", **self.connection_kwargs())
        return self._connection

    @contextmanager
    def doing(self, verb: str, name: str | None = None) -> Iterator[None]:
        """Turn SDK/HTTP errors raised inside into ``Failed to <verb> image <name>: ...``."""
        try:
            yield
        except sdk_error_types() as error:
            raise ImageOperationError(verb, name or self.image_name, describe_sdk_error(error)) from error

    def fail(self, verb: str, detail: str, name: str | None = None, **result: Any) -> None:
        raise ImageOperationError(verb, name or self.image_name, detail, **result)

    def run(self) -> dict[str, Any]:
        raise NotImplementedError

    def __call__(self) -> None:
        try:
            with self.doing(self.default_verb):
                result = self.run()
        except ImageOperationError as error:
            self.module.fail_json(msg=error.message, **error.result)
        self.module.exit_json(**result)
