# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checksums as users give them (``ALGO:HEX``) and hashing while data streams.

Standard library only: image_fetch runs this on managed hosts.
"""
from __future__ import annotations

import hashlib
from typing import Any, BinaryIO, Iterable, Iterator

DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
# Algorithms users may name; Glance's os_hash_algo is one of hashlib's names too.
SUPPORTED_ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "sha3_512", "blake2b")


class ChecksumError(ValueError):
    pass


def parse_checksum(text: str) -> tuple[str, str]:
    """``sha256:ABC...`` -> ``("sha256", "abc...")``; a clear ChecksumError for anything else."""
    algorithm, separator, digest = str(text).strip().partition(":")
    algorithm = algorithm.strip().lower().replace("-", "")
    algorithm = {"sha3256": "sha3_256", "sha3512": "sha3_512"}.get(algorithm, algorithm)
    digest = digest.strip().lower()
    if not separator or not digest:
        raise ChecksumError(f"checksum must look like ALGO:HEX (for example sha256:0123...), got {text!r}")
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise ChecksumError(f"checksum algorithm {algorithm!r} is not supported; use one of {', '.join(SUPPORTED_ALGORITHMS)}")
    expected_length = hashlib.new(algorithm).digest_size * 2
    if len(digest) != expected_length or any(ch not in "0123456789abcdef" for ch in digest):
        raise ChecksumError(f"checksum {algorithm}:{digest} is not a {expected_length}-digit hex {algorithm} digest")
    return algorithm, digest


def format_checksum(algorithm: str, digest: str) -> str:
    return f"{algorithm}:{digest}"


class MultiHasher:
    """Feeds every chunk once to several hash algorithms and counts the bytes."""

    def __init__(self, algorithms: Iterable[str]) -> None:
        self.hashers = {name: hashlib.new(name) for name in dict.fromkeys(algorithms)}
        self.bytes = 0

    def update(self, chunk: bytes) -> None:
        self.bytes += len(chunk)
        for hasher in self.hashers.values():
            hasher.update(chunk)

    def hexdigest(self, algorithm: str) -> str:
        return self.hashers[algorithm].hexdigest()

    def hexdigests(self) -> dict[str, str]:
        return {name: hasher.hexdigest() for name, hasher in self.hashers.items()}


class HashingReader:
    """A file wrapper that hashes what is read from it: the data is read exactly once.

    ``read(n)`` serves consumers that pull (http.client, requests with a file body);
    iterating yields chunks of ``chunk_size`` for consumers that want an iterator.
    """

    def __init__(self, stream: BinaryIO, algorithms: Iterable[str], chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self.stream = stream
        self.hasher = MultiHasher(algorithms)
        self.chunk_size = chunk_size

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        if chunk:
            self.hasher.update(chunk)
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self.read(self.chunk_size)
            if not chunk:
                return
            yield chunk

    @property
    def bytes_read(self) -> int:
        return self.hasher.bytes


def file_digests(path: str, algorithms: Iterable[str], chunk_size: int = DEFAULT_CHUNK_SIZE) -> dict[str, str]:
    """Hex digests of a file, read once in chunks."""
    with open(path, "rb") as stream:
        reader = HashingReader(stream, algorithms, chunk_size)
        for _chunk in reader:
            pass
    return reader.hasher.hexdigests()


def matches(expected: tuple[str, str] | None, digests: dict[str, Any]) -> bool:
    return expected is None or digests.get(expected[0]) == expected[1]
