#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: image_fetch
short_description: Download a Glance image to a managed host, streamed, verified, resumable and atomic
version_added: 0.1.0
description:
  - Downloads the data of an active Glance image to a file on the managed host.
  - The image is looked up on the controller with openstacksdk (by the action plugin); the managed
    host receives only the data URL, a short-lived token and the expected size and hashes, and
    downloads with the Python standard library. Managed hosts need neither openstacksdk nor requests.
  - The data is streamed in chunks into a partial file next to O(dest), hashing every byte once as
    it arrives. The partial file replaces O(dest) (an atomic rename) only after the size and the
    whole-image hash match Glance's C(os_hash_value) (or the md5 C(checksum) when the cloud has no
    multihash) and the optional O(checksum). On any failure O(dest) is left exactly as it was.
  - An interrupted transfer (connection reset, server restart, timeout) is retried with an HTTP
    C(Range) request from the last byte written. With O(resume=true) the partial file also survives
    for the next run, which re-hashes it and resumes. Data that turns out wrong (size or hash) is
    always removed.
  - When O(dest) already holds the image (same size and hash), nothing is downloaded and the task
    reports no change.
  - The free space of the destination file system is checked before the transfer.
  - Runs of the same download into the same O(dest) (for example C(delegate_to) the same host from
    many hosts of a play) wait for each other instead of writing the same file twice.
extends_documentation_fragment:
  - glance.images.openstack
  - ansible.builtin.files
options:
  image:
    description:
      - Name or ID of the image. A name must match exactly one image; several images of that
        name are an error that lists their IDs.
      - The image must be C(active); queued, importing, deactivated or killed images are an error.
    type: str
    required: true
    aliases: [name]
  dest:
    description:
      - Path of the file to write on the managed host.
      - When O(dest) is an existing directory, the file is O(dest)/<image name>.
      - The directory must exist.
    type: path
    required: true
  checksum:
    description:
      - An additional expected checksum of the data, as C(ALGO:HEX), for example
        V(sha256:0123...). Supported algorithms are md5, sha1, sha224, sha256, sha384, sha512,
        sha3_256, sha3_512 and blake2b.
      - It is computed while the data streams, together with Glance's own hash.
    type: str
  force:
    description:
      - Download again even if O(dest) already holds the image.
    type: bool
    default: false
  resume:
    description:
      - Keep the partial file of a failed download so that the next run resumes it, and resume
        the partial file that a previous run left.
      - With V(false) a previous partial file is discarded and a failed download leaves nothing.
      - Within one run, interrupted transfers are always resumed with C(Range) requests.
    type: bool
    default: true
  retries:
    description:
      - How many times to retry a transfer that fails (connection error, timeout, HTTP 5xx),
        waiting 1, 2, 4, ... (at most 30) seconds in between.
      - An attempt that received data resets the count, so a long download that is interrupted
        now and then always finishes.
      - Errors that retrying cannot fix (authentication, missing image, wrong data) fail at once.
    type: int
    default: 3
  chunk_size:
    description:
      - Bytes read from the network at a time (between 64 KiB and 64 MiB). Memory use is a few
        chunks, whatever the image size.
    type: int
    default: 4194304
  store:
    description:
      - Preferred Glance store to read the data from, for clouds with multiple stores.
      - The image must have data in that store (an error lists the stores it has). The request
        asks Glance to prefer that store (the C(prefer) query parameter of the download API);
        Glance versions without store selection, or a Glance image cache, may still serve the
        data from elsewhere. The data is verified either way.
    type: str
  _url:
    description:
      - Internal, filled in by the action plugin from what it resolved on the controller; do not set. URL of the image data.
    type: str
  _token:
    description:
      - Internal, filled in by the action plugin from what it resolved on the controller; do not set. Keystone token for the download (never logged).
    type: str
  _size:
    description:
      - Internal, filled in by the action plugin from what it resolved on the controller; do not set. Size of the image data in bytes.
    type: int
  _os_hash_algo:
    description:
      - Internal, filled in by the action plugin from what it resolved on the controller; do not set. Glance's multihash algorithm for the image.
    type: str
  _os_hash_value:
    description:
      - Internal, filled in by the action plugin from what it resolved on the controller; do not set. Glance's multihash value for the image.
    type: str
  _checksum_md5:
    description:
      - Internal, filled in by the action plugin from what it resolved on the controller; do not set. Glance's md5 C(checksum) of the image.
    type: str
  _image_name:
    description:
      - Internal, filled in by the action plugin from what it resolved on the controller; do not set. Name of the image.
    type: str
  _image_id:
    description:
      - Internal, filled in by the action plugin from what it resolved on the controller; do not set. ID of the image.
    type: str
  _ca_data:
    description:
      - Internal, filled in by the action plugin from what it resolved on the controller; do not set. PEM CA bundle read on the controller from O(ca_cert).
    type: str
  _read_timeout:
    description:
      - Internal, filled in by the action plugin from what it resolved on the controller; do not set. Seconds without data before a read is retried.
    type: int
attributes:
  check_mode:
    support: full
    description: Reports whether a download is needed (hashing an existing O(dest)); transfers nothing.
  diff_mode:
    support: full
    description: Shows the size and hash of O(dest) before and after.
notes:
  - Image lookup and authentication happen on the controller (where openstacksdk is needed); the
    download runs on the managed host, which only needs Python 3.8 or later.
  - TLS settings for the download follow the cloud configuration (O(validate_certs), O(ca_cert)
    or C(clouds.yaml)). A CA bundle is read on the controller and handed to the managed host, so
    it need not exist there. Client certificates (O(client_cert)) are used for the API calls only.
  - The token is handed to the managed host for the download only, is never returned and is
    masked in Ansible's output. A download that outlives the token fails with HTTP 401; with
    O(resume=true), the next run continues where it stopped.
  - The partial file is O(dest)'s directory/.<file name>.<image id>.<hash>.part.
  - Where the file system supports it (Linux, C(O_DIRECT)), the data is written past the page
    cache, so a download neither fills the host's memory with image data nor leaves seconds of
    work for the final C(fsync). Elsewhere it is written through the page cache, which the module
    asks the kernel to write back and drop as it goes.
  - For tests only, the task variable C(glance_images_fetch_test_endpoint) replaces the scheme,
    host and port of the data URL (to route the download through a test proxy).
seealso:
  - module: glance.images.image_info
author:
  - glance.images developers (@glance-images)
"""

EXAMPLES = r"""
- name: Download an image to every hypervisor
  glance.images.image_fetch:
    cloud: mycloud
    image: ubuntu-24.04
    dest: /var/lib/images/ubuntu-24.04.qcow2
    mode: "0640"
    owner: root
    group: kvm

- name: Download into a directory (the file gets the image's name), checking a published checksum too
  glance.images.image_fetch:
    image: 5f5a0c1e-8c2f-4c7c-9b11-3a2b2f1c9e10
    dest: /srv/images/
    checksum: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

- name: Download on the controller itself
  glance.images.image_fetch:
    image: cirros
    dest: /tmp/cirros.img
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
dest:
  description: Path of the downloaded file (O(dest)/<image name> when O(dest) is a directory).
  returned: always
  type: str
  sample: /var/lib/images/ubuntu-24.04.qcow2
image_id:
  description: ID of the image.
  returned: always
  type: str
  sample: 5f5a0c1e-8c2f-4c7c-9b11-3a2b2f1c9e10
size:
  description: Size of the image data in bytes.
  returned: always
  type: int
  sample: 614400000
os_hash_algo:
  description: Glance's hash algorithm for the image data (null when the cloud has no multihash).
  returned: always
  type: str
  sample: sha512
os_hash_value:
  description: Glance's hex digest of the data with RV(os_hash_algo), which the file matches.
  returned: always
  type: str
  sample: 0b8f3c...
checksum:
  description: Glance's md5 checksum of the data.
  returned: always
  type: str
  sample: 9e107d9d372bb6826bd81d3542a419d6
bytes_transferred:
  description: Bytes of image data received in this run (0 when nothing was downloaded).
  returned: always
  type: int
  sample: 614400000
resumed_from:
  description:
    - Byte offset of the partial file this run resumed (0 when the download started from the beginning).
    - In check mode, the offset a download would resume from.
  returned: always
  type: int
  sample: 0
elapsed:
  description: Seconds the module spent (hashing and downloading).
  returned: always
  type: float
  sample: 12.3
"""

import os
import time
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.glance.images.plugins.module_utils._checksum import ChecksumError, parse_checksum
from ansible_collections.glance.images.plugins.module_utils._fetch import (
    CONNECTION_ARGUMENT_SPEC,
    DEFAULT_READ_TIMEOUT,
    FETCH_ARGUMENT_SPEC,
    INTERNAL_ARGUMENT_SPEC,
    MAX_CHUNK_SIZE,
    MIN_CHUNK_SIZE,
    CorruptData,
    FetchError,
    ImageData,
    Transfer,
    build_opener,
    check_free_space,
    expected_digests,
    file_digests,
    file_size,
    fsync_directory,
    hash_file,
    mismatches,
    open_locked_partial,
    partial_path,
    remove_file,
    resolve_dest,
    ssl_context,
)


def argument_spec() -> dict[str, Any]:
    spec = dict(CONNECTION_ARGUMENT_SPEC)
    spec.update(FETCH_ARGUMENT_SPEC)
    spec.update(INTERNAL_ARGUMENT_SPEC)
    return spec


class ImageFetch:
    """Decides whether dest needs the image, then downloads it into a locked partial file and renames it."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
        self.started = time.monotonic()
        self.image = self._image_data()
        self.expected = expected_digests(self.image, self._extra_checksum())
        self.dest = resolve_dest(self.params["dest"], self.image)
        self.partial = partial_path(self.dest, self.image)
        self.warnings: list[str] = []

    def _image_data(self) -> ImageData:
        missing = [key for key in ("_url", "_token", "_size", "_image_id") if self.params[key] in (None, "")]
        if missing:
            raise FetchError("this module runs through its action plugin, which looks the image up; "
                             f"missing internal options {', '.join(missing)}")
        return ImageData(self.params["_image_id"], self.params["_image_name"] or "", self.params["_size"],
                         self.params["_url"], self.params["_token"], self.params["_os_hash_algo"],
                         self.params["_os_hash_value"], self.params["_checksum_md5"])

    def _extra_checksum(self) -> tuple[str, str] | None:
        if not self.params["checksum"]:
            return None
        try:
            return parse_checksum(self.params["checksum"])
        except ChecksumError as error:
            raise FetchError(str(error)) from None

    @property
    def glance_hash(self) -> str:
        return "{0}:{1}".format(*self.image.glance_digest)

    def validate(self) -> None:
        chunk_size, retries = self.params["chunk_size"], self.params["retries"]
        if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
            raise FetchError(f"chunk_size must be between {MIN_CHUNK_SIZE} and {MAX_CHUNK_SIZE}, got {chunk_size}")
        if retries < 0:
            raise FetchError(f"retries must be 0 or more, got {retries}")
        directory = os.path.dirname(self.dest) or "."
        if not os.path.isdir(directory):
            raise FetchError(f"the directory {directory} of dest does not exist")

    def dest_state(self) -> dict[str, Any]:
        """What dest holds now: size, and the hashes when the size is the image's (else they cannot match)."""
        size = file_size(self.dest)
        state: dict[str, Any] = dict(path=self.dest, exists=size is not None, size=size, hash=None, matches=False)
        if os.path.isdir(self.dest):
            raise FetchError(f"dest {self.dest} is a directory")
        if size == self.image.size:
            digests = file_digests(self.dest, list(self.expected))
            algorithm = self.image.glance_digest[0]
            state["hash"] = f"{algorithm}:{digests[algorithm]}"
            state["matches"] = not mismatches(self.expected, digests)
        return state

    def run(self) -> dict[str, Any]:
        self.validate()
        while True:
            before = self.dest_state()
            if before["matches"] and not self.params["force"]:
                return self.result(before, changed=False, transfer=None, resumed_from=0)
            if self.module.check_mode:
                return self.result(before, changed=True, transfer=None, resumed_from=self.resumable_bytes())
            stream = open_locked_partial(self.partial)
            if stream is not None:
                break
        with stream:
            transfer, resumed_from = self.download(stream)
        return self.result(before, changed=True, transfer=transfer, resumed_from=resumed_from)

    def resumable_bytes(self) -> int:
        size = file_size(self.partial) if self.params["resume"] else None
        return size if size is not None and size <= self.image.size else 0

    def download(self, stream: Any) -> tuple[Transfer, int]:
        """Download into the locked partial file, verify, and rename it over dest; clean up on failure."""
        try:
            resumed_from = self.prepare_partial(stream)
            transfer = self.new_transfer()
            hashers = hash_file(stream, list(self.expected), resumed_from)
            transfer.run(stream, hashers, resumed_from)
            bad = mismatches(self.expected, {name: hasher.hexdigest() for name, hasher in hashers.items()})
            if bad and resumed_from:
                self.warnings.append(f"the data resumed from byte {resumed_from} did not match ({'; '.join(bad)}); "
                                     "downloaded again from the beginning")
                transfer.restart(stream, hashers, "hash mismatch after resuming")
                transfer.run(stream, hashers, 0)
                bad = mismatches(self.expected, {name: hasher.hexdigest() for name, hasher in hashers.items()})
            if bad:
                raise CorruptData(f"the downloaded data does not match the expected checksum: {'; '.join(bad)}")
            os.fsync(stream.fileno())
            self.module.atomic_move(self.partial, self.dest)
            fsync_directory(os.path.dirname(self.dest) or ".")
        except BaseException as error:
            if isinstance(error, CorruptData) or not self.params["resume"] or os.fstat(stream.fileno()).st_size == 0:
                remove_file(self.partial)
            raise
        return transfer, resumed_from

    def prepare_partial(self, stream: Any) -> int:
        """Bytes of the partial file to keep (0 unless resuming), after checking the free space."""
        size = os.fstat(stream.fileno()).st_size
        if not self.params["resume"] or size > self.image.size:
            stream.truncate(0)
            size = 0
        check_free_space(os.path.dirname(self.dest) or ".", self.image.size - size)
        return size

    def new_transfer(self) -> Transfer:
        validate_certs = self.params["validate_certs"] is not False
        context = ssl_context(validate_certs, self.params["ca_cert"], self.params["_ca_data"])
        return Transfer(self.image, build_opener(context), self.params["chunk_size"], self.params["retries"],
                        self.params["_read_timeout"] or DEFAULT_READ_TIMEOUT)

    def result(self, before: dict[str, Any], changed: bool, transfer: Transfer | None, resumed_from: int) -> dict[str, Any]:
        after = dict(path=self.dest, exists=True, size=self.image.size, hash=self.glance_hash)
        diff = dict(before={key: before[key] for key in ("path", "exists", "size", "hash")}, after=after)
        changed = self.apply_file_attributes(changed, diff)
        result = dict(
            changed=changed, dest=self.dest, image_id=self.image.image_id, size=self.image.size,
            os_hash_algo=self.image.os_hash_algo, os_hash_value=self.image.os_hash_value,
            checksum=self.image.checksum_md5, bytes_transferred=transfer.bytes_transferred if transfer else 0,
            resumed_from=resumed_from, elapsed=round(time.monotonic() - self.started, 3), diff=diff,
        )
        if transfer and transfer.restarts:
            self.warnings.extend(f"restarted from the beginning: {reason}" for reason in transfer.restarts)
        for warning in self.warnings:
            self.module.warn(warning)
        return result

    def apply_file_attributes(self, changed: bool, diff: dict[str, Any]) -> bool:
        if not os.path.exists(self.dest):
            return changed
        file_args = self.module.load_file_common_arguments(self.params, path=self.dest)
        return self.module.set_fs_attributes_if_different(file_args, changed, diff=diff)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, add_file_common_args=True)
    try:
        result = ImageFetch(module).run()
    except FetchError as error:
        module.fail_json(msg=f"Failed to fetch image {module.params['image']}: {error}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
