#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: image_upload
short_description: Upload a local file as an OpenStack Glance image, idempotently and verified
version_added: 0.1.0
description:
  - Makes sure that one image of this exact O(name) exists and holds the data of O(src), with the
    metadata given; or, with O(state=absent), that no image of that name exists.
  - The image is found by its exact name (never a glob); hidden images count. Two images with
    that name are an error that lists their IDs.
  - A new image is created, the file is streamed to Glance in one pass (read once, hashed while it
    is sent, never held in memory), and once the image is V(active) Glance's RV(image.os_hash_value)
    is compared with the hash computed while streaming. On a mismatch, or any other failure after
    the image was created, the new image is deleted and the module fails.
  - When the image already exists and is active, the module decides from the size, then the hash,
    whether O(src) holds the same data. Same data uploads nothing and only updates the metadata
    that differs. Different data fails unless O(replace=true), which uploads a new image and deletes
    the old one only once the new one is active and verified.
  - An image that exists but is not active (V(queued), V(saving), V(uploading), V(importing), ...,
    typically left by an earlier failure) is an error; O(replace=true) deletes it and starts again.
extends_documentation_fragment:
  - glance.images.openstack
  - glance.images.openstack.wait
options:
  name:
    description:
      - Exact name of the image.
    type: str
    required: true
  src:
    description:
      - Path of the image data on the host where the module runs.
      - Required when O(state=present). Must be a readable regular file.
    type: path
  disk_format:
    description:
      - Disk format of the image. Required to create an image.
      - Glance cannot change it once the image has data; a different value for an existing image
        fails unless O(replace=true).
    type: str
    choices: [ami, ari, aki, vhd, vhdx, vmdk, raw, qcow2, vdi, iso, ploop]
  container_format:
    description:
      - Container format of the image. Like O(disk_format), fixed once the image has data.
    type: str
    choices: [ami, ari, aki, bare, ovf, ova, docker, compressed]
    default: bare
  visibility:
    description:
      - Visibility of the image. When not given, a new image gets Glance's default and an existing
        image (or the image it replaces) keeps its own.
    type: str
    choices: [public, community, shared, private]
  protected:
    description:
      - Whether the image is protected from deletion.
      - Deleting a protected image (O(state=absent) or O(replace=true)) requires O(protected=false).
    type: bool
  hidden:
    description:
      - Whether the image is hidden from Glance's default image lists.
    type: bool
  min_disk:
    description:
      - Minimum disk size, in GB, needed to boot the image.
    type: int
  min_ram:
    description:
      - Minimum RAM, in MB, needed to boot the image.
    type: int
  tags:
    description:
      - Tags of the image. The image ends with exactly these tags. When not given, tags are left alone.
    type: list
    elements: str
  properties:
    description:
      - Custom properties. Values are compared as Glance stores them (strings), so V(2) and V("2")
        are the same. Properties not named here are left alone.
    type: dict
  checksum:
    description:
      - Expected checksum of O(src) as C(ALGO:HEX), for example V(sha256:9f86d0...).
      - It is checked against the hash computed while the data streams (no extra read). When the data
        does not match, the module fails and leaves no new image behind.
    type: str
  method:
    description:
      - How the data reaches Glance.
      - V(put) sends it to the image's data URL (C(PUT /v2/images/{id}/file)).
      - V(glance-direct) stages it (C(PUT /v2/images/{id}/stage)) and then asks Glance to import it,
        which the cloud must offer (C(GET /v2/info/import)).
    type: str
    choices: [put, glance-direct]
    default: put
  stores:
    description:
      - IDs of the stores that must hold the data (clouds with several stores only; they are
        checked against C(GET /v2/info/stores) before anything is created).
      - With O(method=put), at most one store (sent as C(X-Image-Meta-Store)); use
        O(method=glance-direct) to import into several stores at once.
      - An existing image with the same data that is missing from one of these stores is an error
        (copy it with Glance's C(copy-image) import instead).
    type: list
    elements: str
  replace:
    description:
      - When the existing image holds different data (or a different O(disk_format) or
        O(container_format)), upload a new image and delete the old one once the new one is active
        and verified. The new image keeps the old one's metadata unless options say otherwise.
      - Also deletes an image of that name that is not active, then uploads again.
    type: bool
    default: false
  state:
    description:
      - V(present) makes sure the image exists with the data of O(src).
      - V(absent) deletes every image of that name.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description:
      - With O(method=glance-direct), whether to wait until the import has finished, then verify the
        data. Without waiting, the image is returned while Glance still imports it and is not verified.
      - With O(method=put), the upload itself is synchronous and is always verified.
  timeout:
    description:
      - How long to wait, in seconds, for the image to become active after the data was sent.
notes:
  - The file is read exactly once for an upload. Deciding whether an existing image holds the same
    data reads it once more, and only when the sizes match.
  - When Glance ends up using a hash algorithm that was not computed during the upload (the
    module hashes with the algorithm of the cloud's most recent active image, else V(sha512)),
    the file is read once more to verify it, with a warning.
attributes:
  check_mode:
    support: full
    description: Nothing is created, uploaded, updated or deleted; the result says what would change.
  diff_mode:
    support: full
    description: Shows the image before and after (created, updated, replaced or deleted).
author:
  - glance.images developers (@glance-images)
"""

EXAMPLES = r"""
- name: Upload an image (once; later runs change nothing while the file is the same)
  glance.images.image_upload:
    cloud: mycloud
    name: ubuntu-24.04
    src: /srv/images/ubuntu-24.04.qcow2
    disk_format: qcow2
    checksum: sha256:6b2d1c4a8f5e0c7d9b3a1e2f4c6d8b0a9e7c5d3b1f2e4a6c8d0b9f7e5c3a1d2b
    tags: [golden]
    properties:
      os_distro: ubuntu
      hw_cpu_cores: 2

- name: Replace the image when the file holds a new build
  glance.images.image_upload:
    name: ubuntu-24.04
    src: /srv/images/ubuntu-24.04.qcow2
    disk_format: qcow2
    replace: true

- name: Stage and import into two stores
  glance.images.image_upload:
    name: debian-13
    src: /srv/images/debian-13.raw
    disk_format: raw
    method: glance-direct
    stores: [ceph-a, ceph-b]

- name: Delete every image of that name, protected ones too
  glance.images.image_upload:
    name: old-image
    state: absent
    protected: false
"""

RETURN = r"""
image:
  description:
    - The image, in the same shape as an item of the C(images) that P(glance.images.image_info#module) returns.
    - In check mode, for an image that would be created or replaced, what is known beforehand
      (ID and dates are then null).
  returned: when O(state=present)
  type: dict
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
      description: Image status (V(active) after a verified upload).
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
      description: Algorithm of RV(image.os_hash_value).
      type: str
      returned: always
    os_hash_value:
      description: Hex digest of the data with RV(image.os_hash_algo).
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
      description: Custom properties.
      type: dict
      returned: always
  sample:
    id: 5f5a0c1e-8c2f-4c7c-9b11-3a2b2f1c9e10
    name: ubuntu-24.04
    status: active
    size: 614400000
    disk_format: qcow2
    container_format: bare
    visibility: private
    protected: false
    os_hidden: false
    tags: [golden]
    os_hash_algo: sha512
    os_hash_value: 0b8f...
    stores: [fs]
    properties:
      os_distro: ubuntu
deleted:
  description: IDs of the images deleted (or that would be deleted in check mode).
  returned: when O(state=absent), or when O(replace=true) replaced an image
  type: list
  elements: str
  sample: [5f5a0c1e-8c2f-4c7c-9b11-3a2b2f1c9e10]
bytes_sent:
  description: How many bytes of O(src) were sent to Glance.
  returned: after an upload
  type: int
  sample: 614400000
upload_seconds:
  description: How long sending the data took, in seconds.
  returned: after an upload
  type: float
  sample: 12.345
"""

import os
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from ansible_collections.glance.images.plugins.module_utils import _import as import_api
from ansible_collections.glance.images.plugins.module_utils._base import ImageOperationError
from ansible_collections.glance.images.plugins.module_utils._checksum import ChecksumError, file_digests, parse_checksum
from ansible_collections.glance.images.plugins.module_utils._glance import GlanceAPI, custom_properties, image_to_dict
from ansible_collections.glance.images.plugins.module_utils._metadata import (
    METADATA_ARGUMENT_SPEC,
    MetadataError,
    create_attributes,
    format_conflicts,
    metadata_patch,
    wanted_properties,
)
from ansible_collections.glance.images.plugins.module_utils._named_image import NamedImageModule, diff_view
from ansible_collections.glance.images.plugins.module_utils._upload import (
    TransferStats,
    check_readable_file,
    describe_transfer,
    stream_file,
)

DEFAULT_HASH_ALGORITHM = "sha512"
POLL_SECONDS = 1.0
# Attributes a replacing image inherits from the image it replaces when no option says otherwise.
_INHERITED_ATTRIBUTES = ("disk_format", "visibility", "os_hidden", "min_disk", "min_ram", "tags")
# Properties that openstacksdk derives from the data (stale for a replacing image).
_DATA_PROPERTY_PREFIX = "owner_specified.openstack."


@dataclass
class Plan:
    """What ensure_present will do: ``keep`` (maybe update metadata), ``create``, ``replace`` or ``restart``."""

    action: str
    old: dict[str, Any] | None = None
    operations: list[dict[str, Any]] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)


class UploadInterrupted(Exception):
    pass


def hash_text(algorithm: str | None, digest: str | None) -> str:
    return f"{algorithm}:{digest}" if algorithm and digest else "no hash"


@contextmanager
def terminate_as_exception() -> Iterator[None]:
    """SIGTERM raises inside the upload, so that the image created so far can still be deleted."""

    def interrupt(signum: int, _frame: Any) -> None:
        raise UploadInterrupted(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class ImageUploadModule(NamedImageModule):
    argument_spec = dict(
        name=dict(type="str", required=True),
        src=dict(type="path"),
        checksum=dict(type="str"),
        method=dict(type="str", choices=["put", "glance-direct"], default="put"),
        stores=dict(type="list", elements="str"),
        replace=dict(type="bool", default=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        **METADATA_ARGUMENT_SPEC,
    )
    module_kwargs = dict(supports_check_mode=True, required_if=[("state", "present", ["src"])])
    uses_wait = True
    default_verb = "upload"

    def run(self) -> dict[str, Any]:
        self.api = GlanceAPI(self.conn)
        self.name: str = self.params["name"]
        self.src: str = self.params["src"]
        self.expected: tuple[str, str] | None = None
        if self.params["state"] == "absent":
            return self.ensure_absent()
        return self.ensure_present()

    # ---- state: absent -------------------------------------------------------------------

    # ---- state: present: decide ------------------------------------------------------------

    def ensure_present(self) -> dict[str, Any]:
        self.validate_request()
        with self.doing("find"):
            images = self.api.images_named(self.name)
        if len(images) > 1:
            ids = ", ".join(raw["id"] for raw in images)
            self.fail("upload", f"{len(images)} images have this name ({ids}); delete the extra ones or use another name")
        plan = self.decide(images[0] if images else None)
        if plan.action == "keep":
            return self.keep(plan)
        return self.upload(plan)

    def validate_request(self) -> None:
        """Everything that can be checked before anything is created."""
        problem = check_readable_file(self.src)
        if problem:
            self.fail("upload", problem)
        try:
            if self.params["checksum"]:
                self.expected = parse_checksum(self.params["checksum"])
            wanted_properties(self.params)
        except (ChecksumError, MetadataError) as error:
            self.fail("upload", str(error))
        stores = self.params["stores"] or []
        if self.params["method"] == "put" and len(stores) > 1:
            self.fail("upload", "method put writes to one store; use method glance-direct to import into several stores")
        if stores:
            self.validate_stores(stores)
        if self.params["method"] == "glance-direct":
            self.validate_glance_direct()

    def validate_stores(self, stores: list[str]) -> None:
        try:
            with self.doing("upload"):
                available = [store["id"] for store in self.api.stores()]
        except ImageOperationError as error:
            self.fail("upload", f"cannot list the cloud's stores (is multi-store enabled?): {error.detail}")
        unknown = [store for store in stores if store not in available]
        if unknown:
            self.fail("upload", f"unknown store {', '.join(unknown)}; the cloud has {', '.join(available) or 'none'}")

    def validate_glance_direct(self) -> None:
        with self.doing("upload"):
            methods = self.api.import_methods()
        if "glance-direct" not in methods:
            self.fail("upload", f"the cloud does not offer the glance-direct import method (it offers {', '.join(methods) or 'none'})")

    def decide(self, old: dict[str, Any] | None) -> Plan:
        if old is None:
            self.require_disk_format()
            return Plan("create")
        if old.get("status") != "active":
            return self.decide_not_active(old)
        conflicts = format_conflicts(old, self.params)
        same, old_hash, local_hash = self.same_data(old)
        if same and not conflicts:
            return self.decide_keep(old)
        if not self.params["replace"]:
            reason = "; ".join(conflicts) if same else f"Glance holds {old_hash}, src has {local_hash}"
            self.fail("upload", f"image {old['id']} holds different data or formats ({reason}); give replace: true to replace it")
        self.require_deletable(old)
        return Plan("replace", old)

    def decide_not_active(self, old: dict[str, Any]) -> Plan:
        status = old.get("status")
        if not self.params["replace"]:
            self.fail("upload", f"image {old['id']} exists but is {status} (probably left by an earlier failed upload); "
                                "give replace: true to delete it and upload again")
        self.require_deletable(old)
        self.require_disk_format(old)
        return Plan("restart", old)

    def decide_keep(self, old: dict[str, Any]) -> Plan:
        missing = [store for store in self.params["stores"] or [] if store not in image_to_dict(old)["stores"]]
        if missing:
            self.fail("upload", f"image {old['id']} holds the same data but is not in store {', '.join(missing)}; "
                                "copy it there with a copy-image import")
        operations, before, after = metadata_patch(old, self.params)
        return Plan("keep", old, operations, before, after)

    def require_disk_format(self, old: dict[str, Any] | None = None) -> None:
        if self.params["disk_format"] is None and not (old and old.get("disk_format")):
            self.fail("upload", "disk_format is required to create an image")

    def require_deletable(self, old: dict[str, Any]) -> None:
        if old.get("protected") and self.params["protected"] is not False:
            self.fail("upload", f"image {old['id']} is protected; give protected: false as well to replace it")

    def same_data(self, old: dict[str, Any]) -> tuple[bool, str, str]:
        """Whether src holds the data of ``old``: size first, then one read hashing with Glance's algorithm."""
        algorithm, digest = old.get("os_hash_algo"), old.get("os_hash_value")
        if not (algorithm and digest):
            algorithm, digest = "md5", old.get("checksum")
        local_size = os.path.getsize(self.src)
        old_hash = f"{hash_text(algorithm, digest)} ({old.get('size')} bytes)"
        algorithms = [algorithm] + ([self.expected[0]] if self.expected else [])
        if local_size != old.get("size") and not self.expected:
            return False, old_hash, f"{local_size} bytes"
        digests = self.read_digests(algorithms)
        self.check_expected(digests)
        local_hash = f"{hash_text(algorithm, digests[algorithm])} ({local_size} bytes)"
        return local_size == old.get("size") and digests[algorithm] == digest, old_hash, local_hash

    def read_digests(self, algorithms: list[str]) -> dict[str, str]:
        digests: dict[str, str] = {}
        try:
            digests = file_digests(self.src, algorithms)
        except OSError as error:
            self.fail("upload", f"cannot read src {self.src}: {error.strerror or error}")
        return digests

    def check_expected(self, digests: dict[str, str]) -> None:
        if self.expected and digests.get(self.expected[0]) != self.expected[1]:
            algorithm, digest = self.expected
            self.fail("upload", f"src {self.src} does not match checksum: expected {algorithm}:{digest}, "
                                f"got {algorithm}:{digests.get(algorithm)}")

    # ---- state: present: act ---------------------------------------------------------------

    def keep(self, plan: Plan) -> dict[str, Any]:
        raw: dict[str, Any] = plan.old or {}
        if plan.operations and not self.check_mode:
            with self.doing("update"):
                raw = self.api.update_image(raw["id"], plan.operations)
        result: dict[str, Any] = dict(changed=bool(plan.operations), image=image_to_dict(raw))
        if self.module._diff:
            result["diff"] = dict(before=plan.before, after=plan.after)
        if self.check_mode and plan.operations:
            result["image"] = self.predicted_update(raw, plan)
        return result

    def predicted_update(self, raw: dict[str, Any], plan: Plan) -> dict[str, Any]:
        image = image_to_dict(raw)
        for key, value in plan.after.items():
            if key == "properties":
                image["properties"].update(value)
            else:
                image[key] = value
        return image

    def upload(self, plan: Plan) -> dict[str, Any]:
        attributes = self.new_image_attributes(plan.old)
        before = diff_view(image_to_dict(plan.old)) if plan.old else {}
        deleted = [plan.old["id"]] if plan.old else []
        if self.check_mode:
            image = self.predicted_image(attributes)
            return self.upload_result(image, before, deleted, None)
        if plan.action == "restart":
            self.delete_existing(plan.old)
        raw, stats = self.create_and_upload(attributes, self.hash_algorithm_hint(plan.old))
        if plan.action == "replace":
            self.delete_existing(plan.old)
        return self.upload_result(image_to_dict(raw), before, deleted, stats)

    def upload_result(self, image: dict[str, Any], before: dict[str, Any], deleted: list[str],
                      stats: TransferStats | None) -> dict[str, Any]:
        result: dict[str, Any] = dict(changed=True, image=image)
        if deleted:
            result["deleted"] = deleted
        if stats is not None:
            result.update(describe_transfer(stats))
        if self.module._diff:
            result["diff"] = dict(before=before, after=diff_view(image))
        return result

    def new_image_attributes(self, old: dict[str, Any] | None) -> dict[str, Any]:
        """POST body of the new image: the options, and for a replacement what the old image had."""
        body = create_attributes(self.params, self.name)
        if old is None:
            return body
        for attribute in _INHERITED_ATTRIBUTES:
            if attribute not in body and old.get(attribute) is not None:
                body[attribute] = old[attribute]
        for key, value in custom_properties(old).items():
            if not key.startswith(_DATA_PROPERTY_PREFIX):
                body.setdefault(key, value)
        return body

    def predicted_image(self, attributes: dict[str, Any]) -> dict[str, Any]:
        image = image_to_dict(dict(attributes, id=None, status="active", size=os.path.getsize(self.src)))
        image["stores"] = list(self.params["stores"] or [])
        return image

    def hash_algorithm_hint(self, old: dict[str, Any] | None) -> str:
        """The algorithm Glance will most likely use (it is only known once the data is there)."""
        if old and old.get("os_hash_algo"):
            return old["os_hash_algo"]
        with self.doing("upload"):
            recent = list(self.api.iter_images([("status", "active")], sort="created_at:desc", limit=1))
        return (recent[0].get("os_hash_algo") if recent else None) or DEFAULT_HASH_ALGORITHM

    def create_and_upload(self, attributes: dict[str, Any], hint: str) -> tuple[dict[str, Any], TransferStats]:
        """Create the image, send the data, wait, verify; on any failure delete what was created."""
        with self.doing("create"):
            raw = self.api.create_image(attributes)
        try:
            with terminate_as_exception():
                stats = self.send_data(raw["id"], [hint] + ([self.expected[0]] if self.expected else []))
                self.check_expected(stats.digests)
                raw = self.wait_until_done(raw["id"])
                if raw.get("status") == "active":
                    self.verify(raw, stats)
        except BaseException as error:
            self.discard(raw["id"], error)
            if isinstance(error, (KeyboardInterrupt, UploadInterrupted)):
                self.fail("upload", f"interrupted ({str(error) or type(error).__name__}); the new image {raw['id']} was deleted")
            raise
        return raw, stats

    def send_data(self, image_id: str, algorithms: list[str]) -> TransferStats:
        stores = self.params["stores"] or []
        try:
            with self.doing("upload"):
                if self.params["method"] == "put":
                    return stream_file(self.api, f"/images/{image_id}/file", self.src, algorithms,
                                       store=stores[0] if stores else None)
                stats = stream_file(self.api, f"/images/{image_id}/stage", self.src, algorithms)
        except OSError as error:
            self.fail("upload", f"sending src {self.src} failed: {error.strerror or error}")
        self.request_import(image_id, stores)
        return stats

    def request_import(self, image_id: str, stores: list[str]) -> None:
        try:
            with self.doing("import"):
                import_api.request_import(self.api, image_id, import_api.glance_direct(), stores=stores or None)
        except import_api.GlanceImportError as error:
            self.fail("import", f"Glance refused the glance-direct import: {error.detail}")

    def wait_until_done(self, image_id: str) -> dict[str, Any]:
        if self.params["method"] == "glance-direct":
            return self.wait_for_import(image_id)
        deadline = time.monotonic() + self.params["timeout"]
        while True:
            with self.doing("upload"):
                raw = self.api.get_image(image_id)
            status = (raw or {}).get("status")
            if status == "active":
                return raw
            if raw is None or status in ("killed", "deleted", "pending_delete", "queued"):
                self.fail("upload", f"the image went {status or 'missing'} after the data was sent")
            if time.monotonic() >= deadline:
                self.fail("upload", f"the image is still {status} after {self.params['timeout']} seconds")
            time.sleep(POLL_SECONDS)

    def wait_for_import(self, image_id: str) -> dict[str, Any]:
        if not self.params["wait"]:
            with self.doing("import"):
                return self.api.get_image(image_id) or {}
        try:
            with self.doing("import"):
                result = import_api.wait_for_import(self.api, image_id, self.params["stores"] or None, self.params["timeout"],
                                                    poll_interval=POLL_SECONDS)
        except import_api.GlanceImportError as error:
            self.fail("import", error.detail)
        return result.image

    def verify(self, raw: dict[str, Any], stats: TransferStats) -> None:
        """Glance's hash of what it stored must be the hash of what was streamed."""
        algorithm, stored = raw.get("os_hash_algo"), raw.get("os_hash_value")
        if not (algorithm and stored):
            algorithm, stored = "md5", raw.get("checksum")
        if not stored:
            self.module.warn(f"Glance reported no hash for image {raw['id']}; its data could not be verified")
            return
        streamed = stats.digests.get(algorithm)
        if streamed is None:
            self.module.warn(f"Glance hashed image {raw['id']} with {algorithm}, which was not computed while "
                             "streaming; src was read once more to verify it")
            streamed = self.read_digests([algorithm])[algorithm]
        if streamed != stored:
            self.fail("upload", f"verification failed: Glance holds {algorithm}:{stored} but the data sent was "
                                f"{algorithm}:{streamed}; the image was deleted")

    def discard(self, image_id: str, cause: BaseException) -> None:
        """Delete the image this run created; never hides the failure that led here."""
        try:
            self.api.delete_image(image_id)
        except Exception as error:  # pylint: disable=broad-exception-caught
            self.module.warn(f"could not delete the incomplete image {image_id} after '{cause}': {error}")


def main() -> None:
    ImageUploadModule()()


if __name__ == "__main__":
    main()
