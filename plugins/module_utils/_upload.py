# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Streaming a local file to Glance in one pass: read once, hash while sending, never whole in memory.

Used for ``PUT /images/{id}/file`` (plain upload) and ``PUT /images/{id}/stage`` (glance-direct).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterable, Iterator

from ansible_collections.glance.images.plugins.module_utils._checksum import HashingReader
from ansible_collections.glance.images.plugins.module_utils._glance import GlanceAPI

# Large reads keep the per-chunk Python work negligible next to hashing and the socket.
DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024
STORE_HEADER = "X-Image-Meta-Store"


class SourceChangedError(OSError):
    """The file was shorter than its size when the upload started (it changed while streaming)."""


@dataclass
class TransferStats:
    bytes_sent: int
    seconds: float
    digests: dict[str, str] = field(default_factory=dict)


class SizedBody:
    """A request body of known length: requests sends ``Content-Length`` (not chunked encoding) and
    iterates it, so urllib3 writes our large chunks straight to the socket.

    Exactly ``length`` bytes are produced; a file that shrank meanwhile raises SourceChangedError
    and one that grew is cut at ``length`` (the request stays well-formed either way).
    """

    def __init__(self, stream: BinaryIO, length: int, algorithms: Iterable[str], chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self.reader = HashingReader(stream, algorithms, chunk_size)
        self.length = length
        self.chunk_size = chunk_size
        # The HTTP stack may wrap an error raised while it iterates; this keeps the real cause.
        self.error: OSError | None = None

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        remaining = self.length
        while remaining > 0:
            try:
                chunk = self.reader.read(min(self.chunk_size, remaining))
                if not chunk:
                    raise SourceChangedError(
                        f"the file ended after {self.length - remaining} of {self.length} bytes (it changed during the upload)")
            except OSError as error:
                self.error = error
                raise
            remaining -= len(chunk)
            yield chunk

    @property
    def bytes_read(self) -> int:
        return self.reader.bytes_read

    def hexdigests(self) -> dict[str, str]:
        return self.reader.hasher.hexdigests()


def upload_headers(length: int, store: str | None = None) -> dict[str, str]:
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
    if store:
        headers[STORE_HEADER] = store
    return headers


def stream_file(
    api: GlanceAPI,
    path: str,
    src: str,
    algorithms: Iterable[str],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    store: str | None = None,
) -> TransferStats:
    """PUT the file ``src`` to the Glance ``path``, hashing every byte with ``algorithms`` as it goes.

    ``store`` (optional) asks Glance to write the data to that store (``X-Image-Meta-Store``).
    Raises the SDK's HttpException when Glance refuses, OSError when the file cannot be read.
    """
    algorithms = list(algorithms)
    started = time.monotonic()
    with open(src, "rb") as stream:
        length = os.fstat(stream.fileno()).st_size
        body = SizedBody(stream, length, algorithms, chunk_size)
        try:
            # No connection retries: a half-consumed body cannot be sent again.
            api.request("PUT", path, data=body, headers=upload_headers(length, store), connect_retries=0)
        except Exception as error:
            if body.error is not None and body.error is not error:
                raise body.error from error
            raise
    return TransferStats(bytes_sent=body.bytes_read, seconds=time.monotonic() - started, digests=body.hexdigests())


def check_readable_file(src: str) -> str | None:
    """Why ``src`` cannot be uploaded (missing, not a regular file, unreadable), or None when it can."""
    if not os.path.exists(src):
        return f"src {src} does not exist"
    if not os.path.isfile(src):
        return f"src {src} is not a regular file"
    try:
        with open(src, "rb") as stream:
            stream.read(1)
    except OSError as error:
        return f"src {src} cannot be read: {error.strerror or error}"
    return None


def describe_transfer(stats: TransferStats) -> dict[str, Any]:
    return dict(bytes_sent=stats.bytes_sent, upload_seconds=round(stats.seconds, 3))
