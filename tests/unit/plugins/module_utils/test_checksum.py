from __future__ import annotations

import hashlib
import io

import pytest

from ansible_collections.glance.images.plugins.module_utils._checksum import (
    ChecksumError,
    HashingReader,
    file_digests,
    parse_checksum,
)


def test_parse_checksum_normalises():
    digest = hashlib.sha256(b"x").hexdigest()
    assert parse_checksum(f"SHA256:{digest.upper()}") == ("sha256", digest)


@pytest.mark.parametrize("text,message", [
    ("abc", "ALGO:HEX"),
    ("crc32:abcd", "not supported"),
    ("sha256:abcd", "64-digit hex"),
])
def test_parse_checksum_errors(text, message):
    with pytest.raises(ChecksumError, match=message):
        parse_checksum(text)


def test_hashing_reader_hashes_once_while_reading():
    data = bytes(range(256)) * 1000
    reader = HashingReader(io.BytesIO(data), ["sha512", "md5"], chunk_size=1000)
    assert b"".join(reader) == data
    assert reader.bytes_read == len(data)
    assert reader.hasher.hexdigest("sha512") == hashlib.sha512(data).hexdigest()
    assert reader.hasher.hexdigest("md5") == hashlib.md5(data).hexdigest()


def test_file_digests(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert file_digests(str(path), ["sha256"]) == {"sha256": hashlib.sha256(b"abc").hexdigest()}
