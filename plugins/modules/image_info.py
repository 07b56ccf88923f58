#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: image_info
short_description: List and inspect OpenStack Glance images
version_added: 0.1.0
description:
  - Lists the Glance images that the user can see, optionally one image by name or ID,
    filtered, sorted and limited by Glance itself (server-side).
  - Follows Glance's pagination to the end, one request per page of up to 1000 images.
  - Finding nothing is not a failure; RV(images) is then empty.
extends_documentation_fragment:
  - glance.images.openstack
options:
  image:
    description:
      - Name or ID of the image to return. A name matches exactly (no glob), and every image
        of that name is returned, hidden ones included.
    type: str
    aliases: [name]
  filters:
    description:
      - Server-side Glance list filters.
      - Native keys are V(status), V(visibility), V(owner), V(tag) (a list; every tag must
        match), V(member_status), V(protected), V(os_hidden), V(disk_format), V(container_format),
        V(size_min), V(size_max), V(name), V(id), V(checksum), V(os_hash_value), V(created_at) and
        V(updated_at); values may use Glance's operators (for example V(in:active,queued) or
        V(gte:2026-01-01T00:00:00Z)).
      - Any other key filters on a custom property of that name (exact match).
      - Keys that Glance cannot filter by (for example V(size), V(tags), V(stores), V(min_ram))
        are an error.
      - Without V(os_hidden), Glance lists only images that are not hidden.
    type: dict
    default: {}
  sort:
    description:
      - Sort order in Glance syntax, for example V(name:asc,created_at:desc).
    type: str
  limit:
    description:
      - Maximum number of images to return.
    type: int
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
    description: The module only reads.
author:
  - glance.images developers (!UNKNOWN)
"""

EXAMPLES = r"""
- name: List every active image
  glance.images.image_info:
    cloud: mycloud
    filters:
      status: active
  register: active_images

- name: Inspect one image by name
  glance.images.image_info:
    image: ubuntu-24.04
  register: ubuntu

- name: Newest five images tagged golden and built by Packer
  glance.images.image_info:
    filters:
      tag: [golden]
      builder: packer
    sort: created_at:desc
    limit: 5
"""

RETURN = r"""
images:
  description: The matching images, in Glance's order (or O(sort)); empty when none match.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Image ID.
      type: str
      returned: always
    name:
      description: Image name.
      type: str
      returned: always
    status:
      description: Image status (V(queued), V(saving), V(active), ...).
      type: str
      returned: always
    size:
      description: Size of the image data in bytes.
      type: int
      returned: always
    virtual_size:
      description: Virtual size of the disk in bytes, when known.
      type: int
      returned: always
    disk_format:
      description: Disk format.
      type: str
      returned: always
    container_format:
      description: Container format.
      type: str
      returned: always
    visibility:
      description: V(public), V(community), V(shared) or V(private).
      type: str
      returned: always
    protected:
      description: Whether the image is protected from deletion.
      type: bool
      returned: always
    os_hidden:
      description: Whether the image is hidden from default lists.
      type: bool
      returned: always
    owner:
      description: ID of the project that owns the image.
      type: str
      returned: always
    tags:
      description: Image tags, sorted.
      type: list
      elements: str
      returned: always
    checksum:
      description: MD5 checksum of the data.
      type: str
      returned: always
    os_hash_algo:
      description: Algorithm of RV(images[].os_hash_value).
      type: str
      returned: always
    os_hash_value:
      description: Hex digest of the data with RV(images[].os_hash_algo).
      type: str
      returned: always
    min_disk:
      description: Minimum disk size in GB.
      type: int
      returned: always
    min_ram:
      description: Minimum RAM in MB.
      type: int
      returned: always
    created_at:
      description: Creation time.
      type: str
      returned: always
    updated_at:
      description: Last update time.
      type: str
      returned: always
    stores:
      description: Stores that hold the data.
      type: list
      elements: str
      returned: always
    properties:
      description: Custom properties (everything that is not a field above).
      type: dict
      returned: always
  sample:
    - id: 5f5a0c1e-8c2f-4c7c-9b11-3a2b2f1c9e10
      name: ubuntu-24.04
      status: active
      size: 614400000
      virtual_size: 3758096384
      disk_format: qcow2
      container_format: bare
      visibility: public
      protected: false
      os_hidden: false
      owner: 0e3b6c5f0b1d4d2c9b4c3f1a2e5d6c7b
      tags: [golden]
      checksum: 9e107d9d372bb6826bd81d3542a419d6
      os_hash_algo: sha512
      os_hash_value: 0b8f...
      min_disk: 10
      min_ram: 512
      created_at: "2026-11-02T10:00:00Z"
      updated_at: "2026-11-02T10:02:11Z"
      stores: [fs]
      properties:
        os_distro: ubuntu
"""

from typing import Any

from ansible_collections.glance.images.plugins.module_utils._base import GlanceModule
from ansible_collections.glance.images.plugins.module_utils._glance import (
    FilterError,
    GlanceAPI,
    build_query,
    image_to_dict,
    looks_like_id,
    name_filter,
)


class ImageInfoModule(GlanceModule):
    argument_spec = dict(
        image=dict(type="str", aliases=["name"]),
        filters=dict(type="dict", default={}),
        sort=dict(type="str"),
        limit=dict(type="int"),
    )
    module_kwargs = dict(supports_check_mode=True)
    default_verb = "list"

    def run(self) -> dict[str, Any]:
        limit = self.params["limit"]
        if limit is not None and limit < 1:
            self.fail("list", f"limit must be a positive number, got {limit}")
        try:
            query = build_query(self.params["filters"])
        except FilterError as error:
            self.fail("list", str(error))
        api = GlanceAPI(self.conn)
        image = self.params["image"]
        with self.doing("list", image):
            images = self._find(api, image, query) if image else list(api.iter_images(query, self.params["sort"], limit))
        return dict(changed=False, images=[image_to_dict(raw) for raw in images])

    def _find(self, api: GlanceAPI, image: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Images with this ID or exact name that also match the filters; hidden ones too unless filtered."""
        by_id = looks_like_id(image) and api.get_image(image) is not None
        selector = [("id", f"in:{image}")] if by_id else [("name", name_filter(image))]
        if any(key == "os_hidden" for key, _value in query):
            selectors = [selector]
        else:
            selectors = [selector + [("os_hidden", "false")], selector + [("os_hidden", "true")]]
        limit = self.params["limit"]
        found: dict[str, dict[str, Any]] = {}
        for params in selectors:
            for raw in api.iter_images(params + query, self.params["sort"], limit):
                if by_id or raw.get("name") == image:
                    found.setdefault(raw["id"], raw)
        return list(found.values())[:limit]


def main() -> None:
    ImageInfoModule()()


if __name__ == "__main__":
    main()
