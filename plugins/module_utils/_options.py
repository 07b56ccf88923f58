# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options every module shares (names and meaning as in openstack.cloud).

Standard library only, so that image_fetch's module can declare them on managed hosts without
importing the SDK-facing base.
"""
from __future__ import annotations

from typing import Any

COMMON_ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    cloud=dict(type="raw"),
    auth=dict(type="dict", no_log=True),
    auth_type=dict(type="str"),
    region_name=dict(type="str"),
    interface=dict(type="str", choices=["admin", "internal", "public"], default="public", aliases=["endpoint_type"]),
    validate_certs=dict(type="bool", aliases=["verify"]),
    ca_cert=dict(type="str", aliases=["cacert"]),
    client_cert=dict(type="str", aliases=["cert"]),
    client_key=dict(type="path", no_log=True, aliases=["key"]),
    api_timeout=dict(type="int"),
)

WAIT_ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    wait=dict(type="bool", default=True),
    timeout=dict(type="int", default=1800),
)
