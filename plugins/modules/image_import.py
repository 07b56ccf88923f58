#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: image_import
short_description: Import an OpenStack Glance image with interoperable import, verified and failing fast
version_added: 0.1.0
description:
  - Makes sure that one image of this exact O(name) exists, filled by one of Glance's interoperable
    import methods (V(web-download), V(glance-direct), V(copy-image), V(glance-download)), with the
    metadata given; or, with O(state=absent), that no image of that name exists.
  - Before anything is created, checks that the cloud offers the method (C(GET /v2/info/import))
    and the stores (C(GET /v2/info/stores)); otherwise fails listing what the cloud offers.
  - The import request's HTTP status is checked; a refusal (for example a URI that the cloud's
    import filtering rejects) fails at once with Glance's own explanation, and the image created by
    this run is deleted again.
  - While waiting, a failed import (stores in C(os_glance_failed_import), the image back in
    V(queued), V(killed), the import task failed) is reported within one poll interval (one
    second), with the message of the import task (C(GET /v2/images/{id}/tasks)). An image that
    this run created is then deleted; an image from an earlier run stays as Glance left it. A timeout
    names the state reached and never deletes anything.
  - With O(checksum), the result is verified; a mismatch deletes the image this run filled and fails,
    naming both values.
  - The image is found by its exact name (hidden images count). Two images of that name are an error
    that lists their IDs. An active image is left alone apart from metadata updates (and, when
    O(checksum) is given, it must hold that data). A V(queued) image of that name (typically left by
    an earlier failed import, with C(os_glance_failed_import) set) is imported again, not duplicated.
extends_documentation_fragment:
  - glance.images.openstack
  - glance.images.openstack.wait
options:
  name:
    description:
      - Exact name of the image.
      - With O(method=copy-image), the existing active image to copy to more stores.
    type: str
    required: true
  method:
    description:
      - The import method.
      - V(web-download) lets Glance download O(uri).
      - V(glance-direct) streams O(src) to Glance's staging area (C(PUT /v2/images/{id}/stage)),
        then imports it.
      - V(copy-image) copies the existing active image O(name) to more stores (O(stores) or
        O(all_stores)).
      - V(glance-download) lets Glance copy the image O(remote_image_id) of the region
        O(remote_region) of the same cloud. Glance takes O(disk_format) and O(container_format) from
        the remote image, and copies the remote properties whose names start with one of
        C([glance_download_properties] extra_properties) (by default C(hw_), C(trait:),
        C(os_distro), C(os_secure_boot), C(os_type)); the other options set the rest.
    type: str
    choices: [web-download, glance-direct, copy-image, glance-download]
    default: web-download
  uri:
    description:
      - URL that Glance downloads with O(method=web-download) (Glance must be able to reach it, and
        its import filtering must allow it).
    type: str
  src:
    description:
      - Path of the image data on the host where the module runs, for O(method=glance-direct).
        It is read once, hashed while it streams, and never held in memory.
    type: path
  remote_region:
    description:
      - Region of the Glance that holds O(remote_image_id), for O(method=glance-download).
    type: str
  remote_image_id:
    description:
      - ID of the image in O(remote_region) to copy, for O(method=glance-download). It must be active.
    type: str
  remote_service_interface:
    description:
      - Interface of the remote Glance endpoint in the service catalog, for O(method=glance-download).
    type: str
    choices: [public, internal, admin]
    default: public
  stores:
    description:
      - IDs of the stores that must hold the image (clouds with several stores only).
      - Without O(stores) and O(all_stores), Glance uses its default store.
      - Required (or O(all_stores)) with O(method=copy-image).
      - Mutually exclusive with O(all_stores).
    type: list
    elements: str
  all_stores:
    description:
      - Import into every writable store of the cloud.
    type: bool
  all_stores_must_succeed:
    description:
      - When V(true), the import fails as soon as one store fails (Glance then removes the data from
        the other new stores).
      - When V(false), a store that fails is reported as V(failed) in RV(stores) with a warning, and
        the module succeeds when at least one store succeeded.
    type: bool
    default: true
  checksum:
    description:
      - Expected checksum of the image data as its publisher gives it, C(ALGO:HEX) (for example
        V(sha256:0123...)).
      - With O(method=glance-direct) it is checked while staging, before the import is requested.
      - Otherwise the imported image is checked per O(verify).
    type: str
  verify:
    description:
      - How to check O(checksum) against the imported image.
      - V(auto) compares it with Glance's C(os_hash_value) (or C(checksum) for md5) when the algorithm
        is the cloud's C(os_hash_algo), and otherwise streams the image data back and hashes it.
        What was verified that way (or while staging O(src)) is recorded on the image as the property
        C(glance_images.verified.<algorithm>), so later runs compare with the record instead of
        downloading the image again (the data of an active image never changes).
      - V(download) always streams the image data back from Glance and hashes it (never whole in
        memory); for an existing image this happens on every run.
      - This module does not take V(verify) as an alias of O(validate_certs), unlike the other modules.
    type: str
    choices: [auto, download]
    default: auto
  validate_certs:
    description:
      - Whether to verify TLS certificates. When not given, the cloud configuration decides
        (which defaults to V(true)).
    type: bool
    aliases: []
  disk_format:
    description:
      - Disk format of the image. Required to create an image with O(method=web-download) or
        O(method=glance-direct).
      - With O(method=glance-download) it defaults to the remote image's, and must match it.
    type: str
    choices: [ami, ari, aki, vhd, vhdx, vmdk, raw, qcow2, vdi, iso, ploop]
  container_format:
    description:
      - Container format of the image. With O(method=glance-download) it must match the remote image's.
    type: str
    choices: [ami, ari, aki, bare, ovf, ova, docker, compressed]
    default: bare
  visibility:
    description:
      - Visibility of the image.
    type: str
    choices: [public, community, shared, private]
  protected:
    description:
      - Whether the image is protected from deletion.
      - Deleting a protected image with O(state=absent) requires O(protected=false).
    type: bool
  hidden:
    description:
      - Whether the image is hidden from default image lists.
    type: bool
  min_disk:
    description:
      - Minimum disk size in GB needed to boot the image.
    type: int
  min_ram:
    description:
      - Minimum RAM in MB needed to boot the image.
    type: int
  tags:
    description:
      - Tags of the image; the image ends with exactly these tags.
    type: list
    elements: str
  properties:
    description:
      - Custom properties to set (others are left alone). Values are stored as strings by Glance.
    type: dict
  state:
    description:
      - V(present) makes sure the image exists and was imported.
      - V(absent) deletes every image of that name.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description:
      - Whether to wait until the image is active in every requested store, then verify it. Without
        waiting, the image is returned while Glance still imports it, and is not verified.
  timeout:
    description:
      - How long to wait for the import, in seconds.
notes:
  - O(checksum) is the checksum of the data as published. Glance computes its own hash with the
    cloud's C(os_hash_algo) (usually V(sha512)); when the publisher uses another algorithm,
    verifying a web-download or an existing image streams the image back from Glance.
  - With O(method=glance-download) and no O(checksum), the imported image's C(os_hash_value) is
    compared with the remote image's.
attributes:
  check_mode:
    support: full
    description: Nothing is created, staged, imported, updated or deleted; the result says what would change.
  diff_mode:
    support: full
    description: Shows the image before and after.
author:
  - glance.images developers (@glance-images)
"""

EXAMPLES = r"""
- name: Import a published cloud image, verified against the publisher's checksum
  glance.images.image_import:
    cloud: mycloud
    name: debian-13
    uri: https://cloud.debian.org/images/cloud/trixie/latest/debian-13-generic-amd64.qcow2
    checksum: sha512:0f6a...e1
    disk_format: qcow2
    properties:
      os_distro: debian

- name: Stage a local file and import it into two stores
  glance.images.image_import:
    name: appliance-7
    method: glance-direct
    src: /srv/images/appliance-7.raw
    checksum: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    disk_format: raw
    stores: [ceph-a, ceph-b]

- name: Copy an existing image to every store
  glance.images.image_import:
    name: debian-13
    method: copy-image
    all_stores: true

- name: Copy an image from another region of the same cloud
  glance.images.image_import:
    name: debian-13
    method: glance-download
    remote_region: RegionTwo
    remote_image_id: 5f5a0c1e-8c2f-4c7c-9b11-3a2b2f1c9e10

- name: Delete the image
  glance.images.image_import:
    name: debian-13
    state: absent
"""

RETURN = r"""
image:
  description:
    - The image (same shape as an item of P(glance.images.image_info#module):images)).
    - In check mode, for an image that would be created, what is known beforehand (ID and dates are
      then null).
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
      description: Image status (V(active) after a successful import).
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
    name: debian-13
    status: active
    size: 421527552
    disk_format: qcow2
    container_format: bare
    visibility: private
    protected: false
    os_hidden: false
    tags: []
    os_hash_algo: sha512
    os_hash_value: 0f6a...
    stores: [fs, fs2]
    properties:
      os_distro: debian
stores:
  description:
    - For each target store, the outcome of the import, V(succeeded), V(failed) or V(pending)
      (not waited for, or not finished).
    - For an existing image left unchanged, V(succeeded) for the target stores that hold it and
      V(missing) for those that do not (with a warning; O(method=copy-image) copies it there).
    - Empty on clouds without multiple stores.
  returned: when O(state=present)
  type: dict
  sample: {fs: succeeded, fs2: failed}
verified:
  description:
    - How O(checksum) (or, for O(method=glance-download), the remote image's hash) was checked,
      V(glance-hash), V(recorded) (an earlier run's verification, see O(verify)), V(download), V(staging),
      V(remote-hash); null when nothing was verified.
  returned: when O(state=present)
  type: str
  sample: glance-hash
deleted:
  description: IDs of the images deleted (or that would be deleted in check mode).
  returned: when O(state=absent)
  type: list
  elements: str
  sample: [5f5a0c1e-8c2f-4c7c-9b11-3a2b2f1c9e10]
"""

from dataclasses import dataclass, field
from typing import Any

from ansible.module_utils.urls import open_url

from ansible_collections.glance.images.plugins.module_utils import _import as import_api
from ansible_collections.glance.images.plugins.module_utils._base import (
    ImageOperationError,
    describe_sdk_error,
    sdk_error_types,
    sdk_exceptions,
)
from ansible_collections.glance.images.plugins.module_utils._checksum import ChecksumError, parse_checksum
from ansible_collections.glance.images.plugins.module_utils._glance import GlanceAPI, image_to_dict, looks_like_id
from ansible_collections.glance.images.plugins.module_utils._metadata import (
    METADATA_ARGUMENT_SPEC,
    MetadataError,
    create_attributes,
    format_conflicts,
    metadata_patch,
    wanted_properties,
)
from ansible_collections.glance.images.plugins.module_utils._named_image import NamedImageModule, diff_view
from ansible_collections.glance.images.plugins.module_utils._upload import check_readable_file, stream_file

METHODS = ["web-download", "glance-direct", "copy-image", "glance-download"]
POLL_SECONDS = 1.0
MISSING = "missing"


@dataclass
class Target:
    """Where the data must go: explicit store IDs, or None for Glance's default (single-store clouds)."""

    stores: list[str] | None
    send_stores: bool = False


@dataclass
class Outcome:
    image: dict[str, Any]
    stores: dict[str, str] = field(default_factory=dict)
    verified: str | None = None


# Records, on the image, a checksum that this module verified by other means than Glance's own hash.
VERIFIED_PROPERTY_PREFIX = "glance_images.verified."


class ImageImportModule(NamedImageModule):
    argument_spec = dict(
        name=dict(type="str", required=True),
        method=dict(type="str", choices=METHODS, default="web-download"),
        uri=dict(type="str"),
        src=dict(type="path"),
        remote_region=dict(type="str"),
        remote_image_id=dict(type="str"),
        remote_service_interface=dict(type="str", choices=["public", "internal", "admin"], default="public"),
        stores=dict(type="list", elements="str"),
        all_stores=dict(type="bool"),
        all_stores_must_succeed=dict(type="bool", default=True),
        checksum=dict(type="str"),
        verify=dict(type="str", choices=["auto", "download"], default="auto"),
        # Redefined without the common alias "verify", which is this module's own option.
        validate_certs=dict(type="bool", aliases=[]),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        **METADATA_ARGUMENT_SPEC,
    )
    module_kwargs = dict(supports_check_mode=True)
    uses_wait = True
    default_verb = "import"
    poll_interval = POLL_SECONDS

    def run(self) -> dict[str, Any]:
        self.api = GlanceAPI(self.conn)
        self.name: str = self.params["name"]
        self.method: str = self.params["method"]
        if self.params["state"] == "absent":
            return self.ensure_absent()
        self.expected = self.validate_options()
        with self.doing("import"):
            target = self.check_offer()
        if self.method == "copy-image":
            return self.ensure_copied(target)
        return self.ensure_imported(target)

    # ---- state: absent -------------------------------------------------------------------

    # ---- checks before anything is created ----------------------------------------------------

    def validate_options(self) -> tuple[str, str] | None:
        params = self.params
        required = {
            "web-download": ["uri"], "glance-direct": ["src"], "glance-download": ["remote_region", "remote_image_id"],
        }.get(self.method, [])
        missing = [option for option in required if not params[option]]
        if missing:
            self.fail("import", f"method {self.method} needs {' and '.join(missing)}")
        if params["stores"] and params["all_stores"]:
            self.fail("import", "stores and all_stores are mutually exclusive")
        if self.method == "copy-image" and not (params["stores"] or params["all_stores"]):
            self.fail("import", "method copy-image needs stores or all_stores: true")
        if params["timeout"] <= 0:
            self.fail("import", f"timeout must be a positive number of seconds, got {params['timeout']}")
        if self.method == "glance-download" and not looks_like_id(params["remote_image_id"]):
            self.fail("import", f"remote_image_id must be an image ID, got {params['remote_image_id']}")
        if self.method == "glance-direct":
            problem = check_readable_file(params["src"])
            if problem:
                self.fail("import", problem)
        try:
            wanted_properties(params)
            return parse_checksum(params["checksum"]) if params["checksum"] else None
        except (ChecksumError, MetadataError) as error:
            self.fail("import", str(error))
        return None

    def check_offer(self) -> Target:
        """The method must be offered and the stores must exist; returns the stores to import into."""
        methods = self.api.import_methods()
        if self.method not in methods:
            self.fail("import", f"the cloud does not offer the {self.method} import method; it offers {', '.join(methods) or 'none'}")
        available = self.writable_stores()
        stores = self.params["stores"]
        if available is None:
            if stores or self.params["all_stores"]:
                self.fail("import", "the cloud has a single store (GET /v2/info/stores is not available); "
                                    "do not give stores or all_stores")
            return Target(None)
        ids = [store["id"] for store in available]
        if stores:
            unknown = [store for store in stores if store not in ids]
            if unknown:
                self.fail("import", f"unknown store {', '.join(unknown)}; the cloud offers {self.describe_stores(available)}")
            return Target(list(dict.fromkeys(stores)), send_stores=True)
        if self.params["all_stores"]:
            return Target(ids, send_stores=True)
        default = [store["id"] for store in available if store.get("default")]
        return Target(default[:1] or None)

    def writable_stores(self) -> list[dict[str, Any]] | None:
        response = self.api.adapter.request("/info/stores", "GET", raise_exc=False)
        if response.status_code in (404, 410):
            return None
        sdk_exceptions.raise_from_response(response)
        return [store for store in response.json().get("stores", []) if not store.get("read-only")]

    @staticmethod
    def describe_stores(stores: list[dict[str, Any]]) -> str:
        return ", ".join(store["id"] + (" (default)" if store.get("default") else "") for store in stores) or "none"

    # ---- copy-image ---------------------------------------------------------------------------

    def ensure_copied(self, target: Target) -> dict[str, Any]:
        raw = self.find_one("copy")
        if raw is None:
            self.fail("copy", "no image has this name; copy-image copies an existing active image")
        if raw.get("status") != "active":
            self.fail("copy", f"image {raw['id']} is {raw.get('status')}; copy-image needs an active image")
        present = image_to_dict(raw)["stores"]
        missing = [store for store in target.stores or [] if store not in present]
        operations, before, after = self.metadata_changes(raw)
        result = self.base_result(image_to_dict(raw), bool(missing or operations), before, after, missing)
        result["stores"] = {store: import_api.PENDING if store in missing else import_api.SUCCEEDED for store in target.stores or []}
        if self.check_mode or not result["changed"]:
            return result
        with self.doing("update"):
            if operations:
                raw = self.api.update_image(raw["id"], operations)
        outcome = Outcome(raw, {store: import_api.SUCCEEDED for store in target.stores or []})
        if missing:
            outcome = self.start_and_wait(raw, Target(missing, send_stores=True), import_api.copy_image(), created=False)
            outcome.stores = {store: import_api.SUCCEEDED for store in target.stores or [] if store in present} | outcome.stores
        return self.finish(result, outcome)

    # ---- web-download, glance-direct, glance-download ----------------------------------------

    def ensure_imported(self, target: Target) -> dict[str, Any]:
        raw = self.find_one("import")
        remote = self.remote_image() if self.method == "glance-download" else None
        if raw is not None and raw.get("status") == "active":
            return self.keep(raw, target, remote)
        if raw is not None and self.import_in_progress(raw):
            return self.join(raw, target, remote)
        if raw is not None and raw.get("status") != "queued":
            self.fail("import", f"image {raw['id']} is {raw.get('status')} (left so by an earlier upload or import); "
                                "delete it to import again")
        attributes = self.new_attributes(remote, raw)
        if raw is None:
            predicted = image_to_dict(dict(attributes, status=None))
            after = dict(diff_view(predicted), status="active")
            result = self.base_result(predicted, True, {}, after, target.stores or [])
        else:
            _operations, before, after = self.metadata_changes(raw, formats=True)
            result = self.base_result(image_to_dict(raw), True, dict(before, status="queued"), dict(after, status="active"),
                                      target.stores or [])
        if self.check_mode:
            return result
        return self.finish(result, self.import_data(raw, attributes, target, remote))

    def import_in_progress(self, raw: dict[str, Any]) -> bool:
        if raw.get("status") in ("importing", "saving"):
            return True
        lock = raw.get(import_api.IMPORT_LOCK_KEY)
        if raw.get("status") != "queued" or not lock:
            return False
        with self.doing("find"):
            task = import_api.latest_task(self.api, raw["id"], raw)
        return task is not None and task.get("id") == lock and task.get("status") in ("pending", "processing")

    def join(self, raw: dict[str, Any], target: Target, remote: dict[str, Any] | None) -> dict[str, Any]:
        """An import of this image is already running (an earlier run without wait): wait for it, do not start another."""
        result = self.base_result(image_to_dict(raw), False, {}, {}, [])
        if self.check_mode or not self.params["wait"]:
            result["stores"] = {store: import_api.PENDING for store in target.stores or []}
            return result
        watched = sorted(set(import_api.store_list(raw, import_api.IMPORTING_STORES_KEY)) | set(image_to_dict(raw)["stores"]))
        try:
            with self.doing("import"):
                outcome = import_api.wait_for_import(self.api, raw["id"], watched or None, self.params["timeout"],
                                                     self.poll_interval, before=raw)
        except import_api.GlanceImportError as error:
            image = getattr(error, "image", None)
            self.fail("import", f"the import already running on image {raw['id']} did not succeed: {error.detail}",
                      image=image_to_dict(image) if image else None, stores=getattr(error, "stores", {}))
        return self.keep(outcome.image, target, remote)

    def keep(self, raw: dict[str, Any], target: Target, remote: dict[str, Any] | None = None) -> dict[str, Any]:
        """An active image: check its data (when a checksum is given) and update metadata only."""
        conflicts = format_conflicts(raw, self.params)
        if conflicts:
            self.fail("import", f"image {raw['id']} exists with other formats ({'; '.join(conflicts)}); "
                                "Glance cannot change them: delete the image first")
        verified = None
        if self.expected:
            verified, actual = self.data_digest(raw, self.expected[0])
            if actual != self.expected[1]:
                self.fail("import", f"image {raw['id']} already exists with other data: expected "
                                    f"{self.expected[0]}:{self.expected[1]}, the image has {self.expected[0]}:{actual}; "
                                    "delete it to import again")
        elif remote is not None:
            verified = self.compare_remote_hash(raw, remote, created=False)
        present = image_to_dict(raw)["stores"]
        missing = [store for store in target.stores or [] if store not in present]
        if missing and target.send_stores:
            self.module.warn(f"image {raw['id']} is not in store {', '.join(missing)}; copy it there with method copy-image")
        operations, before, after = self.metadata_changes(raw)
        record = self.verification_record(raw, verified)
        if record:
            operations = operations + record
            after = dict(after, properties=dict(after.get("properties", {}), **{op["path"][1:]: op["value"] for op in record}))
        result = self.base_result(image_to_dict(raw), bool(operations), before, after, [])
        result["stores"] = {store: import_api.SUCCEEDED if store in present else MISSING for store in target.stores or []}
        result["verified"] = verified
        if operations and not self.check_mode:
            with self.doing("update"):
                result["image"] = image_to_dict(self.api.update_image(raw["id"], operations))
        return result

    def new_attributes(self, remote: dict[str, Any] | None, raw: dict[str, Any] | None) -> dict[str, Any]:
        params = dict(self.params)
        params["disk_format"] = params["disk_format"] or (raw or {}).get("disk_format")
        if remote is not None:
            params["disk_format"] = params["disk_format"] or remote.get("disk_format")
            for option in ("disk_format", "container_format"):
                if params[option] != remote.get(option):
                    self.fail("import", f"the remote image is {remote.get('disk_format')}/{remote.get('container_format')} "
                                        f"(disk/container format), which glance-download keeps; {option} asks for {params[option]}")
        if not params["disk_format"]:
            self.fail("import", "disk_format is required to create an image")
        return create_attributes(params, self.name)

    def import_data(self, raw: dict[str, Any] | None, attributes: dict[str, Any], target: Target,
                    remote: dict[str, Any] | None) -> Outcome:
        created = raw is None
        with self.doing("create"):
            if created:
                raw = self.api.create_image(attributes)
            else:
                operations, _before, _after = self.metadata_changes(raw, formats=True)
                if operations:
                    raw = self.api.update_image(raw["id"], operations)
        staged = self.stage(raw, created) if self.method == "glance-direct" else None
        outcome = self.start_and_wait(raw, target, self.method_body(), created)
        if outcome.image.get("status") == "active" and self.params["wait"]:
            outcome.verified = self.verify_result(outcome.image, staged, remote)
            record = self.verification_record(outcome.image, outcome.verified)
            if record:
                with self.doing("update"):
                    outcome.image = self.api.update_image(outcome.image["id"], record)
        elif staged:
            outcome.verified = staged
        return outcome

    def method_body(self) -> dict[str, Any]:
        params = self.params
        if self.method == "web-download":
            return import_api.web_download(params["uri"])
        if self.method == "glance-direct":
            return import_api.glance_direct()
        return import_api.glance_download(params["remote_region"], params["remote_image_id"], params["remote_service_interface"])

    def stage(self, raw: dict[str, Any], created: bool) -> str | None:
        """Stream src to the staging area; checks the checksum before anything is imported."""
        algorithms = [self.expected[0]] if self.expected else []
        try:
            with self.doing("stage"):
                stats = stream_file(self.api, f"/images/{raw['id']}/stage", self.params["src"], algorithms)
        except OSError as error:
            self.discard(raw, created, error)
            self.fail("stage", f"cannot read src {self.params['src']}: {error.strerror or error}")
        except Exception as error:
            self.discard(raw, created, error)
            raise
        if not self.expected:
            return None
        actual = stats.digests[self.expected[0]]
        if actual != self.expected[1]:
            self.discard(raw, True, ValueError("checksum mismatch"))
            self.fail("import", f"checksum mismatch: expected {self.expected[0]}:{self.expected[1]}, src has "
                                f"{self.expected[0]}:{actual}; nothing was imported and the image was deleted")
        return "staging"

    def start_and_wait(self, raw: dict[str, Any], target: Target, method: dict[str, Any], created: bool) -> Outcome:
        must_succeed = self.params["all_stores_must_succeed"]
        try:
            with self.doing("import"):
                import_api.request_import(self.api, raw["id"], method, stores=target.stores if target.send_stores else None,
                                          all_stores_must_succeed=must_succeed)
        except import_api.ImportRefused as error:
            self.discard(raw, created, error)
            self.fail("import", f"Glance refused the {method['name']} import: {error.detail}"
                                + ("; the image was deleted" if created else ""))
        if not self.params["wait"]:
            with self.doing("import"):
                current = self.api.get_image(raw["id"]) or raw
            return Outcome(current, {store: import_api.PENDING for store in target.stores or []})
        try:
            with self.doing("import"):
                result = import_api.wait_for_import(self.api, raw["id"], target.stores, self.params["timeout"],
                                                    self.poll_interval, all_stores_must_succeed=must_succeed, before=raw)
        except import_api.ImportTimedOut as error:
            self.fail("import", f"{error.detail}; the image was left as it is",
                      image=image_to_dict(error.image) if error.image else None, stores=error.stores)
        except import_api.ImportFailed as error:
            raise self.failure(raw, created, error) from error
        failed = [store for store, state in result.stores.items() if state == import_api.FAILED]
        if failed:
            self.module.warn(f"the import to store {', '.join(failed)} failed; the image is in {', '.join(image_to_dict(result.image)['stores'])}")
        return Outcome(result.image, result.stores)

    def failure(self, raw: dict[str, Any], created: bool, error: import_api.ImportFailed) -> ImageOperationError:
        detail = f"the {self.method} import failed: {error.detail}"
        stores = list(error.stores)
        if self.params["all_stores_must_succeed"] and len(stores) > 1:
            detail += " (when one store fails, Glance removes the data from the others and lists them as failed too)"
        hint = self.uri_hint() if self.method == "web-download" else ""
        deleted = created and self.discard(raw, True, error)
        fate = "; the image was deleted" if deleted else ""
        image = None if deleted or not error.image else image_to_dict(error.image)
        return ImageOperationError("import", self.name, detail + hint + fate, image=image, stores=error.stores)

    def uri_hint(self) -> str:
        """What the URI answers from this host: Glance's task message rarely says why a download failed."""
        try:
            with open_url(self.params["uri"], method="HEAD", timeout=5, validate_certs=False):
                return ""
        except Exception as error:  # pylint: disable=broad-exception-caught
            status = getattr(error, "code", None)
            problem = f"answers HTTP {status}" if status else f"cannot be read: {error}"
            return f" (from the host running this module, the URI {problem})"

    def discard(self, raw: dict[str, Any], created: bool, cause: BaseException) -> bool:
        """Delete the image this run created; never hides the failure that led here."""
        if not created:
            return False
        try:
            self.api.delete_image(raw["id"])
        except Exception as error:  # pylint: disable=broad-exception-caught
            self.module.warn(f"could not delete the image {raw['id']} after '{cause}': {error}")
            return False
        return True

    # ---- verification -------------------------------------------------------------------------

    def data_digest(self, raw: dict[str, Any], algorithm: str) -> tuple[str, str]:
        """(how, hex digest) of the image's data with ``algorithm``: Glance's own hash, an earlier
        run's record, else downloaded."""
        if self.params["verify"] == "auto":
            known = import_api.glance_digest(raw, algorithm)
            if known:
                return "glance-hash", known
            recorded = raw.get(VERIFIED_PROPERTY_PREFIX + algorithm)
            if recorded:
                return "recorded", recorded
        with self.doing("download"):
            return "download", import_api.stream_image_digest(self.api, raw["id"], algorithm)

    def verification_record(self, raw: dict[str, Any], how: str | None) -> list[dict[str, Any]]:
        """The JSON-patch that records a checksum verified by download or staging on the image."""
        if not self.expected or how not in ("download", "staging"):
            return []
        key = VERIFIED_PROPERTY_PREFIX + self.expected[0]
        if raw.get(key) == self.expected[1]:
            return []
        return [{"op": "replace" if key in raw else "add", "path": f"/{key}", "value": self.expected[1]}]

    def verify_result(self, raw: dict[str, Any], staged: str | None, remote: dict[str, Any] | None) -> str | None:
        if self.expected:
            algorithm, expected = self.expected
            if staged and self.params["verify"] == "auto" and not import_api.glance_digest(raw, algorithm):
                return staged
            how, actual = self.data_digest(raw, algorithm)
            if actual != expected:
                self.mismatch(raw, f"{algorithm}:{expected}", f"{algorithm}:{actual}")
            return how
        if remote is not None:
            return self.compare_remote_hash(raw, remote, created=True)
        return staged

    def compare_remote_hash(self, raw: dict[str, Any], remote: dict[str, Any], created: bool) -> str | None:
        algorithm, expected = remote.get("os_hash_algo"), remote.get("os_hash_value")
        if not (algorithm and expected):
            return None
        actual = import_api.glance_digest(raw, algorithm)
        if actual is None:
            with self.doing("download"):
                actual = import_api.stream_image_digest(self.api, raw["id"], algorithm)
        if actual != expected:
            self.mismatch(raw, f"{algorithm}:{expected} (remote image)", f"{algorithm}:{actual}", created)
        return "remote-hash"

    def mismatch(self, raw: dict[str, Any], expected: str, actual: str, created: bool = True) -> None:
        deleted = self.discard(raw, created, ValueError("checksum mismatch"))
        what = "the imported image" if created else f"the existing image {raw['id']}"
        self.fail("import", f"checksum mismatch: expected {expected}, {what} has {actual}"
                            + ("; the image was deleted" if deleted else ""))

    # ---- glance-download -------------------------------------------------------------------------

    def remote_image(self) -> dict[str, Any]:
        """The remote image, read through the catalog like Glance does; it must exist and be active."""
        region, image_id = self.params["remote_region"], self.params["remote_image_id"]
        endpoint_filter = dict(service_type="image", region_name=region, interface=self.params["remote_service_interface"])
        try:
            response = self.conn.session.request(f"/v2/images/{image_id}", "GET", endpoint_filter=endpoint_filter, raise_exc=False)
        except sdk_error_types() as error:
            self.fail("import", f"cannot reach the image service of region {region}: {describe_sdk_error(error)}")
        if response.status_code == 404:
            self.fail("import", f"image {image_id} does not exist in region {region}")
        if response.status_code >= 400:
            self.fail("import", f"cannot read image {image_id} in region {region}: HTTP {response.status_code} {response.reason}")
        remote = response.json()
        if remote.get("status") != "active":
            self.fail("import", f"image {image_id} in region {region} is {remote.get('status')}; glance-download needs an active image")
        return remote

    # ---- results ----------------------------------------------------------------------------

    def metadata_changes(self, raw: dict[str, Any], formats: bool = False) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
        operations, before, after = metadata_patch(raw, self.params)
        if formats:  # an image without data can still change its formats
            for attribute in ("disk_format", "container_format"):
                wanted = self.params[attribute]
                if wanted is not None and raw.get(attribute) != wanted:
                    operations.append({"op": "replace", "path": f"/{attribute}", "value": wanted})
                    before[attribute], after[attribute] = raw.get(attribute), wanted
        return operations, before, after

    def base_result(self, image: dict[str, Any], changed: bool, before: dict[str, Any], after: dict[str, Any],
                    pending_stores: list[str]) -> dict[str, Any]:
        result: dict[str, Any] = dict(changed=changed, image=image, verified=None,
                                      stores={store: import_api.PENDING for store in pending_stores})
        if pending_stores:
            after = dict(after, stores=sorted(set(image.get("stores") or []) | set(pending_stores)))
            before = dict(before, stores=image.get("stores") or []) if image.get("id") else before
        if self.module._diff:
            result["diff"] = dict(before=before, after=after)
        return result

    def finish(self, result: dict[str, Any], outcome: Outcome) -> dict[str, Any]:
        result["image"] = image_to_dict(outcome.image)
        result["stores"] = outcome.stores
        result["verified"] = outcome.verified
        return result


def main() -> None:
    ImageImportModule()()


if __name__ == "__main__":
    main()
