#!/usr/bin/env python
"""A loopback TCP proxy to Glance that breaks image downloads on purpose.

    faulty_proxy.py --upstream 127.0.0.1:9292 --info FILE --mode cut --at N
        the first connection is cut after N bytes of response body; later ones pass through
    faulty_proxy.py ... --mode flip --at N
        byte N of every response body is inverted
    faulty_proxy.py ... --mode pass --at 0 --record FILE
        passes everything through and appends the X-Auth-Token of each request to FILE

Listens on a free 127.0.0.1 port, writes {"port": ..., "pid": ...} to FILE, and exits by itself
after --lifetime seconds (the test also stops it).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import threading
import time

BUFFER = 256 * 1024


def shut_down(*sockets: socket.socket) -> None:
    """Shut both directions of each socket down, whatever state it is in."""
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while True:
            data = source.recv(BUFFER)
            if not data:
                break
            target.sendall(data)
    except OSError:
        pass
    finally:
        shut_down(source, target)


class Responder:
    """Copies the upstream response to the client, applying the fault to the body."""

    def __init__(self, mode: str, at: int, cut: bool) -> None:
        self.mode = mode
        self.at = at
        self.cut = cut
        self.header = b""
        self.body_seen: int | None = None  # None while the headers are still arriving

    def transform(self, data: bytes) -> tuple[bytes, bool]:
        """The bytes to send on, and whether to close the connection after them."""
        if self.body_seen is None:
            self.header += data
            end = self.header.find(b"\r\n\r\n")
            if end < 0:
                return data, False
            head = len(data) - (len(self.header) - end - 4)
            self.body_seen = 0
            sent, close = self.transform(data[head:])
            return data[:head] + sent, close
        start = self.body_seen
        self.body_seen += len(data)
        if self.mode == "cut" and self.cut and self.body_seen >= self.at:
            return data[: self.at - start], True
        if self.mode == "flip" and start <= self.at < self.body_seen:
            flipped = bytearray(data)
            flipped[self.at - start] ^= 0xFF
            return bytes(flipped), False
        return data, False


def record_token(client: socket.socket, record: str) -> bytes:
    """Read the request head, append its X-Auth-Token to ``record``; returns the bytes read."""
    head = b""
    while b"\r\n\r\n" not in head:
        data = client.recv(BUFFER)
        if not data:
            break
        head += data
    for line in head.split(b"\r\n"):
        name, _colon, value = line.partition(b":")
        if name.strip().lower() == b"x-auth-token":
            with open(record, "a", encoding="utf-8") as tokens:
                tokens.write(value.strip().decode() + "\n")
    return head


def serve(client: socket.socket, upstream_address: tuple[str, int], responder: Responder, record: str | None) -> None:
    upstream = socket.create_connection(upstream_address)
    if record:
        upstream.sendall(record_token(client, record))
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    try:
        while True:
            data = upstream.recv(BUFFER)
            if not data:
                break
            data, close = responder.transform(data)
            client.sendall(data)
            if close:
                break
    except OSError:
        pass
    finally:
        shut_down(client, upstream)
        for sock in (client, upstream):
            sock.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True, help="host:port of Glance")
    parser.add_argument("--info", required=True, help="file to write the port and pid to")
    parser.add_argument("--mode", choices=["cut", "flip", "pass"], required=True)
    parser.add_argument("--at", type=int, required=True, help="body byte offset of the fault")
    parser.add_argument("--lifetime", type=int, default=600)
    parser.add_argument("--record", help="file to append request tokens to")
    args = parser.parse_args()
    host, _colon, port = args.upstream.rpartition(":")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(1)
    with open(args.info + ".tmp", "w", encoding="utf-8") as info:
        json.dump({"port": listener.getsockname()[1], "pid": os.getpid()}, info)
    os.replace(args.info + ".tmp", args.info)
    connections = 0
    deadline = time.monotonic() + args.lifetime
    while time.monotonic() < deadline:
        try:
            client, _address = listener.accept()
        except socket.timeout:
            continue
        connections += 1
        responder = Responder(args.mode, args.at, cut=connections == 1)
        threading.Thread(target=serve, args=(client, (host, int(port)), responder, args.record), daemon=True).start()


if __name__ == "__main__":
    main()
