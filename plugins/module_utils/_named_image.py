# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the modules that manage one image by its exact name share: finding it (two of that name
are an error), deleting every image of that name for ``state: absent``, and the diff view."""
from __future__ import annotations

from typing import Any

from ansible_collections.glance.images.plugins.module_utils._base import GlanceModule
from ansible_collections.glance.images.plugins.module_utils._glance import GlanceAPI, image_to_dict

# Shown in diffs: what a user recognises an image by (no timestamps).
DIFF_FIELDS = (
    "id", "name", "status", "size", "disk_format", "container_format", "visibility", "protected", "os_hidden",
    "min_disk", "min_ram", "tags", "os_hash_algo", "os_hash_value", "stores", "properties",
)


def diff_view(image: dict[str, Any]) -> dict[str, Any]:
    return {key: image.get(key) for key in DIFF_FIELDS if key in image}


class NamedImageModule(GlanceModule):
    """Subclasses set ``self.api`` and ``self.name`` before calling these."""

    api: GlanceAPI
    name: str

    def find_one(self, verb: str) -> dict[str, Any] | None:
        """The image of this exact name (hidden ones included), None, or a failure listing every ID."""
        with self.doing("find"):
            images = self.api.images_named(self.name)
        if len(images) > 1:
            ids = ", ".join(raw["id"] for raw in images)
            self.fail(verb, f"{len(images)} images have this name ({ids}); delete the extra ones or use another name")
        return images[0] if images else None

    def ensure_absent(self) -> dict[str, Any]:
        """Delete every image of this name; a protected one only with ``protected: false`` too."""
        with self.doing("find"):
            images = self.api.images_named(self.name)
        protected = [raw["id"] for raw in images if raw.get("protected")]
        if protected and self.params["protected"] is not False:
            self.fail("delete", f"image {', '.join(protected)} is protected; give protected: false as well to delete it")
        result: dict[str, Any] = dict(changed=bool(images), deleted=[raw["id"] for raw in images])
        if self.module._diff:
            result["diff"] = dict(before={"images": [diff_view(image_to_dict(raw)) for raw in images]}, after={"images": []})
        if not self.check_mode:
            for raw in images:
                self.delete_existing(raw)
        return result

    def delete_existing(self, raw: dict[str, Any]) -> None:
        with self.doing("delete"):
            if raw.get("protected"):
                self.api.update_image(raw["id"], [{"op": "replace", "path": "/protected", "value": False}])
            self.api.delete_image(raw["id"])
