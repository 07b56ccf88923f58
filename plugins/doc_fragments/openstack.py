# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # Connection options shared by every module that talks to OpenStack.
    # Names and meaning follow openstack.cloud so that module_defaults can be shared.
    DOCUMENTATION = r"""
options:
  cloud:
    description:
      - Named cloud (an entry of C(clouds.yaml)) or a dictionary with the cloud configuration
        to use, exactly as openstacksdk accepts it.
      - When neither O(cloud) nor O(auth) is given, openstacksdk's own rules apply
        (E(OS_CLOUD), E(OS_CLIENT_CONFIG_FILE) and the E(OS_*) variables).
    type: raw
  auth:
    description:
      - Dictionary of authentication values (for example V(auth_url), V(username), V(password),
        V(project_name), V(user_domain_name), V(project_domain_name)).
      - Values given here take precedence over the ones of O(cloud).
    type: dict
  auth_type:
    description:
      - Name of the keystoneauth plugin to use, for example V(password), V(token),
        V(v3applicationcredential).
    type: str
  region_name:
    description:
      - Name of the region.
    type: str
  interface:
    description:
      - Endpoint URL type to use from the service catalog.
    type: str
    choices: [admin, internal, public]
    default: public
    aliases: [endpoint_type]
  validate_certs:
    description:
      - Whether to verify TLS certificates. When not given, the cloud configuration decides
        (which defaults to V(true)).
    type: bool
    aliases: [verify]
  ca_cert:
    description:
      - Path to a CA bundle used to verify TLS certificates.
    type: str
    aliases: [cacert]
  client_cert:
    description:
      - Path to a client certificate for TLS client authentication.
    type: str
    aliases: [cert]
  client_key:
    description:
      - Path to the key of O(client_cert), if it is not in the same file.
    type: path
    aliases: [key]
  api_timeout:
    description:
      - Timeout in seconds for each API request.
    type: int
requirements:
  - python >= 3.9
  - openstacksdk >= 1.0.0
notes:
  - Secrets (passwords, tokens, application credential secrets and client keys) are never
    returned and are masked in Ansible's output.
"""

    WAIT = r"""
options:
  wait:
    description:
      - Whether to wait until the operation has finished.
    type: bool
    default: true
  timeout:
    description:
      - How long to wait, in seconds, when O(wait=true).
    type: int
    default: 1800
"""
