# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Streamed, verified, resumable downloads of Glance image data on a managed host.

Standard library only, and compatible with every Python that ansible-core 2.19+ supports on
targets (3.8+): the image_fetch module runs this on hosts that have no openstacksdk.

One HTTP attempt reads the response in the calling thread while a writer thread and one thread
per hash algorithm consume the same chunks through bounded queues, so hashing and writing
overlap with receiving and memory stays at a few chunks whatever the image size.

Hashing (sha512: about 1.3 CPU-seconds per GiB) is the floor of the CPU a verified download
needs; the writer keeps its own share small by writing with O_DIRECT where the file system
allows it (no copy into the page cache, nothing left for the final fsync).
"""
from __future__ import annotations

import errno
import hashlib
import http.client
import mmap
import os
import queue
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from typing import Any, BinaryIO, Callable

from ansible_collections.glance.images.plugins.module_utils._options import COMMON_ARGUMENT_SPEC

DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
MIN_CHUNK_SIZE = 64 * 1024
MAX_CHUNK_SIZE = 64 * 1024 * 1024
QUEUE_DEPTH = 6  # pool buffers: chunks being received, written and hashed at once
DEFAULT_READ_TIMEOUT = 60
MAX_BACKOFF = 30
REHASH_CHUNK_SIZE = 4 * 1024 * 1024
WRITEBACK_WINDOW = 32 * 1024 * 1024
DIRECT_IO_ALIGNMENT = 4096  # offsets and lengths of O_DIRECT writes (covers 512 and 4096 byte sectors)

# The options image_fetch takes from users (besides Ansible's file options).
FETCH_ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    image=dict(type="str", required=True, aliases=["name"]),
    dest=dict(type="path", required=True),
    checksum=dict(type="str"),
    force=dict(type="bool", default=False),
    resume=dict(type="bool", default=True),
    retries=dict(type="int", default=3),
    chunk_size=dict(type="int", default=DEFAULT_CHUNK_SIZE),
    store=dict(type="str"),
)

# Declared on the managed host too, so that the connection options are accepted (and ignored).
CONNECTION_ARGUMENT_SPEC = COMMON_ARGUMENT_SPEC

# What the action plugin resolved on the controller and hands to the module.
INTERNAL_ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
    _url=dict(type="str"),
    _token=dict(type="str", no_log=True),
    _size=dict(type="int"),
    _os_hash_algo=dict(type="str"),
    _os_hash_value=dict(type="str"),
    _checksum_md5=dict(type="str"),
    _image_name=dict(type="str"),
    _image_id=dict(type="str"),
    _ca_data=dict(type="str"),
    _read_timeout=dict(type="int"),
)

_FATAL_HTTP_STATUS = {400: "bad request", 401: "the token was refused (expired?)", 403: "forbidden",
                      404: "image data not found"}
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")


class FetchError(Exception):
    """A failure that retrying cannot fix."""


class TransferInterrupted(Exception):
    """The transfer stopped early (connection reset, timeout, server error): worth a Range retry."""


class CorruptData(FetchError):
    """The data cannot be the image (wrong size or hash): the partial file must go."""


class RangeNotHonoured(Exception):
    """The server answered a Range request with the whole image (200) or refused it (416)."""


class ImageData:
    """What Glance says about the image data, as the action plugin resolved it."""

    def __init__(self, image_id: str, name: str, size: int, url: str, token: str,
                 os_hash_algo: str | None, os_hash_value: str | None, checksum_md5: str | None) -> None:
        self.image_id = image_id
        self.name = name
        self.size = size
        self.url = url
        self.token = token
        self.os_hash_algo = os_hash_algo
        self.os_hash_value = os_hash_value
        self.checksum_md5 = checksum_md5

    @property
    def glance_digest(self) -> tuple[str, str]:
        """Glance's multihash, or the md5 checksum when the cloud has no multihash."""
        if self.os_hash_algo and self.os_hash_value:
            return self.os_hash_algo.lower(), self.os_hash_value.lower()
        if self.checksum_md5:
            return "md5", self.checksum_md5.lower()
        raise FetchError(f"Glance reports neither os_hash_value nor checksum for image {self.image_id}; "
                         "its data cannot be verified")


def expected_digests(image: ImageData, extra: tuple[str, str] | None) -> dict[str, list[str]]:
    """Algorithm -> digests the data must match (Glance's, plus the user's optional checksum)."""
    expected: dict[str, list[str]] = {}
    for algorithm, digest in [image.glance_digest] + ([extra] if extra else []):
        expected.setdefault(algorithm, []).append(digest)
    return expected


def mismatches(expected: dict[str, list[str]], actual: dict[str, str]) -> list[str]:
    """Readable ``algo: expected X, got Y`` for every digest that differs."""
    return [f"{algorithm} expected {digest}, got {actual.get(algorithm)}"
            for algorithm, digests in expected.items() for digest in digests if actual.get(algorithm) != digest]


# ---------------------------------------------------------------------------------------------
# Paths, space and locking

def resolve_dest(dest: str, image: ImageData) -> str:
    """``dest`` itself, or ``dest/<image name>`` when ``dest`` is an existing directory."""
    if not os.path.isdir(dest):
        return dest
    name = image.name or image.image_id
    if "/" in name or name in (".", "..") or "\0" in name:
        raise FetchError(f"dest {dest} is a directory, and the image name {name!r} cannot be a file name in it; "
                         "give a file path as dest")
    return os.path.join(dest, name)


def partial_path(dest: str, image: ImageData) -> str:
    """Deterministic name of the partial download next to dest; a partial of another image never matches."""
    algorithm, digest = image.glance_digest
    directory, base = os.path.split(dest)
    return os.path.join(directory, f".{base}.{image.image_id}.{algorithm}-{digest[:16]}.part")


def file_size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None


def free_bytes(directory: str) -> int:
    stats = os.statvfs(directory)
    return stats.f_bavail * stats.f_frsize


def check_free_space(directory: str, needed: int) -> None:
    free = free_bytes(directory)
    if needed > free:
        raise FetchError(f"not enough free space in {directory}: the download needs {needed} bytes, "
                         f"{free} bytes are free")


def open_locked_partial(path: str) -> BinaryIO | None:
    """Open (create) the partial file with an exclusive lock, waiting for another run that holds it.

    Returns None when the file disappeared while waiting (the other run finished and renamed it),
    so the caller checks dest again.
    """
    import fcntl  # Unix only, like every Python module target

    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    stream = os.fdopen(descriptor, "r+b", buffering=0)
    try:
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX)
        if os.stat(path).st_ino != os.fstat(stream.fileno()).st_ino:
            stream.close()
            return None
    except FileNotFoundError:
        stream.close()
        return None
    except BaseException:
        stream.close()
        raise
    return stream  # type: ignore[return-value]


def remove_file(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def fsync_directory(directory: str) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def hash_file(stream: BinaryIO, algorithms: list[str], length: int) -> dict[str, Any]:
    """Hash objects fed with the first ``length`` bytes of an open file (to resume a partial)."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    stream.seek(0)
    left = length
    while left:
        chunk = stream.read(min(REHASH_CHUNK_SIZE, left))
        if not chunk:
            raise FetchError(f"the partial file became shorter while it was read ({length - left} of {length} bytes)")
        for hasher in hashers.values():
            hasher.update(chunk)
        left -= len(chunk)
    return hashers


def file_digests(path: str, algorithms: list[str]) -> dict[str, str]:
    with open(path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        return {name: hasher.hexdigest() for name, hasher in hash_file(stream, algorithms, size).items()}


# ---------------------------------------------------------------------------------------------
# Overlapping receive, write and hash

class _Chunk:
    """A filled pool buffer on its way through the consumers; back to the pool when all are done."""

    __slots__ = ("buffer", "data", "pending", "lock", "pool")

    def __init__(self, buffer: memoryview, length: int, consumers: int, pool: queue.Queue) -> None:
        self.buffer = buffer
        self.data = buffer[:length]
        self.pending = consumers
        self.lock = threading.Lock()
        self.pool = pool

    def done(self) -> None:
        with self.lock:
            self.pending -= 1
            last = self.pending == 0
        if last:
            self.data.release()
            self.pool.put(self.buffer)


class _Consumer(threading.Thread):
    """Applies ``work`` to every chunk from its queue; remembers the first error."""

    def __init__(self, work: Callable[[memoryview], None]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.queue: queue.Queue = queue.Queue()
        self.error: BaseException | None = None

    def run(self) -> None:
        while True:
            chunk = self.queue.get()
            if chunk is None:
                return
            try:
                if self.error is None:
                    self.work(chunk.data)
            except BaseException as error:  # reported by ChunkPipeline.raise_error()
                self.error = error
            finally:
                chunk.done()


def set_direct_io(descriptor: int, enabled: bool) -> bool:
    """Turn O_DIRECT on or off for an open file; False when the platform or file system refuses it."""
    direct_flag = getattr(os, "O_DIRECT", 0)
    if not direct_flag:
        return False
    import fcntl  # Unix only, like every Python module target

    try:
        flags = fcntl.fcntl(descriptor, fcntl.F_GETFL)
        fcntl.fcntl(descriptor, fcntl.F_SETFL, flags | direct_flag if enabled else flags & ~direct_flag)
    except OSError:
        return False
    return True


def aligned_buffer(size: int) -> memoryview:
    """A zeroed buffer at a page boundary, as O_DIRECT needs (an anonymous mapping always is)."""
    return memoryview(mmap.mmap(-1, size))


class FileWriter:
    """Writes chunks at their offsets from ``offset`` on, bypassing the page cache when it can.

    Aligned chunks (pool buffers are page-aligned, reads end at multiples of DIRECT_IO_ALIGNMENT)
    go to disk with O_DIRECT: the data is not copied into the page cache, so the writer costs
    little CPU, nothing piles up as dirty pages and the final fsync has almost nothing left to do.
    Other chunks (the image's last bytes, the first chunk of a resume at an odd offset) and file
    systems without O_DIRECT (tmpfs, ...) take the page cache; for those, every WRITEBACK_WINDOW
    bytes the kernel is asked to write the data back and drop it, because otherwise gigabytes of
    dirty pages pile up, the kernel throttles the writer hard and the final fsync takes seconds.
    """

    def __init__(self, stream: BinaryIO, offset: int) -> None:
        self.descriptor = stream.fileno()
        self.position = offset
        self.flushed = offset
        self.previous = offset
        self.advise = getattr(os, "posix_fadvise", None)
        self.direct_possible = True
        self.direct = False

    def __call__(self, chunk: memoryview) -> None:
        view = memoryview(chunk)
        while view:
            self.use_direct(self.direct_possible and self.position % DIRECT_IO_ALIGNMENT == 0
                            and len(view) % DIRECT_IO_ALIGNMENT == 0)
            try:
                written = os.pwrite(self.descriptor, view, self.position)
            except OSError as error:
                if not self.direct or error.errno != errno.EINVAL:
                    raise
                self.direct_possible = False  # this file system takes no direct writes: nothing was written
                continue
            view = view[written:]
            self.position += written
        if not self.direct:
            self.write_back()

    def use_direct(self, wanted: bool) -> None:
        if wanted != self.direct:
            changed = set_direct_io(self.descriptor, wanted)
            self.direct = wanted and changed
            if wanted and not changed:
                self.direct_possible = False

    def write_back(self) -> None:
        if self.advise is not None and self.position - self.flushed >= WRITEBACK_WINDOW:
            # The window before the last one has been written back by now: its pages can go too.
            self.advise(self.descriptor, self.previous, self.position - self.previous, os.POSIX_FADV_DONTNEED)
            self.previous, self.flushed = self.flushed, self.position

    def close(self) -> None:
        """Leave the file as it was opened (reads through it would need aligned buffers otherwise)."""
        self.use_direct(False)


class ChunkPipeline:
    """Feeds every chunk, in order, to a file writer and to each hash object, each in its own thread.

    The reader fills page-aligned buffers taken from a fixed pool (``buffer()`` blocks while all are
    in use), so memory is ``depth * chunk_size`` whatever the image size, and no buffer is allocated
    per chunk.
    """

    def __init__(self, stream: BinaryIO, hashers: dict[str, Any], offset: int, chunk_size: int,
                 depth: int = QUEUE_DEPTH) -> None:
        self.pool: queue.Queue = queue.Queue()
        for _index in range(depth):
            self.pool.put(aligned_buffer(chunk_size))
        self.writer = FileWriter(stream, offset)
        self.consumers = [_Consumer(self.writer)]
        self.consumers.extend(_Consumer(hasher.update) for hasher in hashers.values())
        for consumer in self.consumers:
            consumer.start()

    def buffer(self) -> memoryview:
        return self.pool.get()

    def feed(self, buffer: memoryview, length: int) -> None:
        """Hand the first ``length`` bytes of a pool buffer to every consumer."""
        self.raise_error()
        chunk = _Chunk(buffer, length, len(self.consumers), self.pool)
        for consumer in self.consumers:
            consumer.queue.put(chunk)

    def give_back(self, buffer: memoryview) -> None:
        self.pool.put(buffer)

    def raise_error(self) -> None:
        for consumer in self.consumers:
            if consumer.error is not None:
                error = consumer.error
                if isinstance(error, OSError):
                    raise FetchError(f"cannot write the partial file: {error.strerror or error}") from error
                raise error

    def close(self) -> None:
        """Wait until every chunk fed so far is written and hashed."""
        for consumer in self.consumers:
            consumer.queue.put(None)
        for consumer in self.consumers:
            consumer.join()
        self.writer.close()
        self.raise_error()


# ---------------------------------------------------------------------------------------------
# HTTP

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The token must never follow a redirect to another server."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        return None


def ssl_context(validate_certs: bool, ca_file: str | None, ca_data: str | None) -> ssl.SSLContext:
    if not validate_certs:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = ssl.create_default_context(cafile=ca_file or None)
    if ca_data:
        context.load_verify_locations(cadata=ca_data)
    return context


def build_opener(context: ssl.SSLContext) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirect())


def parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    match = _CONTENT_RANGE.match(value or "")
    if not match:
        return None
    total = match.group(3)
    return int(match.group(1)), int(match.group(2)), None if total == "*" else int(total)


def http_error_detail(error: urllib.error.HTTPError) -> str:
    try:
        body = error.read(2048).decode("utf-8", "replace")
    except Exception:  # pylint: disable=broad-except
        body = ""
    body = " ".join(re.sub(r"<[^>]+>", " ", body).split())
    return f"HTTP {error.code} {error.reason}" + (f": {body}" if body else "")


class Transfer:
    """Downloads the image into an open partial file, resuming with Range requests after interruptions.

    ``offset`` is always the number of bytes written to the file and fed to the hash objects.
    """

    def __init__(self, image: ImageData, opener: urllib.request.OpenerDirector, chunk_size: int,
                 retries: int, read_timeout: int, sleep: Callable[[float], None] | None = None) -> None:
        self.image = image
        self.opener = opener
        self.chunk_size = chunk_size
        self.retries = retries
        self.read_timeout = read_timeout
        self.sleep = sleep or time.sleep
        self.offset = 0
        self.bytes_transferred = 0
        self.attempts = 0
        self.restarts: list[str] = []

    def run(self, stream: BinaryIO, hashers: dict[str, Any], offset: int) -> None:
        """Receive bytes ``offset..size`` into ``stream`` and ``hashers`` (which hold bytes ``0..offset``)."""
        self.offset = offset
        failures = 0
        while self.offset < self.image.size:
            self.attempts += 1
            before = self.offset
            try:
                self._attempt(stream, hashers)
            except RangeNotHonoured as reason:
                self.restart(stream, hashers, str(reason))
            except TransferInterrupted as error:
                failures = 0 if self.offset > before else failures + 1
                if failures > self.retries or self.retries == 0:
                    raise FetchError(f"download failed after {self.attempts} attempt(s): {error}") from None
                self.sleep(min(2 ** max(failures - 1, 0), MAX_BACKOFF))

    def restart(self, stream: BinaryIO, hashers: dict[str, Any], reason: str) -> None:
        """Forget every byte received so far and start again from byte 0."""
        self.restarts.append(reason)
        if len(self.restarts) > 2:
            raise FetchError(f"download restarted too often from the beginning: {reason}")
        stream.seek(0)
        stream.truncate(0)
        for name in hashers:
            hashers[name] = hashlib.new(name)
        self.offset = 0

    def _request(self) -> Any:
        headers = {"X-Auth-Token": self.image.token, "Accept": "application/octet-stream",
                   "User-Agent": "glance.images-image_fetch"}
        if self.offset:
            headers["Range"] = f"bytes={self.offset}-"
        try:
            request = urllib.request.Request(self.image.url, headers=headers)
        except ValueError as error:
            raise FetchError(f"invalid image data URL: {error}") from None
        try:
            return self.opener.open(request, timeout=self.read_timeout)
        except urllib.error.HTTPError as error:
            detail = http_error_detail(error)
            if error.code == 416:
                raise RangeNotHonoured(f"the server cannot resume at byte {self.offset} ({detail})") from None
            if error.code in _FATAL_HTTP_STATUS or 300 <= error.code < 400:
                reason = _FATAL_HTTP_STATUS.get(error.code, "redirects are not followed")
                raise FetchError(f"Glance refused the download ({reason}): {detail}") from None
            raise TransferInterrupted(detail) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise TransferInterrupted(describe_network_error(error)) from None

    def _attempt(self, stream: BinaryIO, hashers: dict[str, Any]) -> None:
        response = self._request()
        try:
            if self.offset and response.status == 200:
                self.restart(stream, hashers, f"the server ignored the Range request for byte {self.offset}")
            self._check_response(response)
            stream.seek(self.offset)
            pipeline = ChunkPipeline(stream, hashers, self.offset, self.chunk_size)
            try:
                self._receive(response, pipeline)
            finally:
                pipeline.close()
        finally:
            response.close()
        if self.offset < self.image.size:
            raise TransferInterrupted(f"the connection closed after byte {self.offset} of {self.image.size}")

    def _check_response(self, response: Any) -> None:
        status, offset, size = response.status, self.offset, self.image.size
        if status == 204:
            raise FetchError("Glance has no data for this image (HTTP 204)")
        if status not in (200, 206):
            raise TransferInterrupted(f"unexpected HTTP status {status}")
        if status == 206:
            content_range = parse_content_range(response.headers.get("Content-Range"))
            if content_range is None or content_range[0] != offset:
                raise RangeNotHonoured(f"the server answered a Range request for byte {offset} with "
                                       f"Content-Range {response.headers.get('Content-Range')!r}")
            if content_range[2] is not None and content_range[2] != size:
                raise CorruptData(f"the server sends an image of {content_range[2]} bytes, "
                                  f"but Glance reports {size} bytes")
        length = response.headers.get("Content-Length")
        if length is not None and length.strip().isdigit() and int(length) != size - offset:
            raise CorruptData(f"the server announces {int(length) + offset} bytes, "
                              f"but Glance reports an image of {size} bytes")

    def _receive(self, response: Any, pipeline: ChunkPipeline) -> None:
        size = self.image.size
        read_size = self.chunk_size - self.chunk_size % DIRECT_IO_ALIGNMENT
        while True:
            buffer = pipeline.buffer()
            # Reads end at multiples of the alignment (a resume at an odd offset realigns at once),
            # so that every full chunk can be written with O_DIRECT.
            wanted = read_size - self.offset % DIRECT_IO_ALIGNMENT
            try:
                length = response.readinto(buffer[:wanted])
            except (OSError, http.client.HTTPException) as error:
                pipeline.give_back(buffer)
                raise TransferInterrupted(describe_network_error(error, self.offset)) from None
            if not length:
                pipeline.give_back(buffer)
                return
            if self.offset + length > size:
                pipeline.give_back(buffer)
                raise CorruptData(f"the server sent more than the {size} bytes of the image")
            pipeline.feed(buffer, length)
            self.offset += length
            self.bytes_transferred += length


def describe_network_error(error: BaseException, offset: int | None = None) -> str:
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        error = error.reason if isinstance(error.reason, BaseException) else error
    if isinstance(error, (socket.timeout, TimeoutError)):
        text = "timed out"
    elif isinstance(error, http.client.IncompleteRead):
        text = "the connection closed early"
    elif isinstance(error, OSError) and error.errno in (errno.ECONNRESET, errno.EPIPE):
        text = "connection reset"
    else:
        text = str(error) or type(error).__name__
    return text if offset is None else f"{text} (after byte {offset})"
