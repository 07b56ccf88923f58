#!/usr/bin/env python
"""Benchmark: glance.images.image_upload against a plain ``curl`` PUT of the same file.

    benchmarks/upload.py [--size 1G] [--runs 1] [--file PATH] [--keep-file]

Uploads one file of ``--size`` random bytes twice per run, in one go:
  * with the module: ``ansible localhost -m glance.images.image_upload`` (create, stream, wait,
    verify), its process' peak memory read from /proc (VmHWM, sampled until it exits);
  * with curl: the image is created through the API, then ``curl -T FILE`` PUTs the data to
    ``/v2/images/{id}/file`` with a token of the same user (the token goes through a header file,
    never the command line).
Prints both wall times, their ratio and the module's peak memory; exits 1 when the ratio is above
``--max-ratio`` (1.15) or the peak memory above ``--max-rss-mib`` (100).

Runs against the cloud of OS_CLOUD / OS_CLIENT_CONFIG_FILE when they are set; otherwise starts the
repository's local cloud (tools/local-cloud up, honouring GLANCE_IMAGES_CLOUD_DIR,
GLANCE_IMAGES_CLOUD_PORT_BASE and GLANCE_IMAGES_CLOUD_VENV). Needs the tooling venv (.venv:
ansible-core, openstacksdk) and curl.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import MIB, VENV_BIN, PeakMemory, collection_path, ensure_cloud, log, parse_size, use_tool_venv


@dataclass
class Measure:
    seconds: float
    peak_rss: int = 0


def make_file(path: Path, size: int) -> None:
    log(f"writing {size} random bytes to {path}")
    with open(path, "wb") as stream:
        remaining = size
        while remaining:
            piece = os.urandom(min(16 * MIB, remaining))
            stream.write(piece)
            remaining -= len(piece)
    # Both uploads read from the page cache; make sure the first one does too.
    with open(path, "rb") as stream:
        while stream.read(16 * MIB):
            pass


def run_module(name: str, src: Path, collections: str) -> tuple[Measure, dict]:
    args = json.dumps({"name": name, "src": str(src), "disk_format": "raw"})
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.oneline", ANSIBLE_NOCOLOR="1", ANSIBLE_PYTHON_INTERPRETER=str(VENV_BIN / "python"))
    command = [str(VENV_BIN / "ansible"), "localhost", "-c", "local", "-i", "localhost,", "-m", "glance.images.image_upload", "-a", args]
    memory = PeakMemory("AnsiballZ_image_upload")
    started = time.monotonic()
    process = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    peak = memory.stop()
    stdout, stderr = process.stdout, process.stderr
    try:
        result = json.loads(stdout.split(" => ", 1)[1])
    except (ValueError, IndexError):
        raise SystemExit(f"the module run failed:\n{stdout}\n{stderr}") from None
    if result.get("failed"):
        raise SystemExit(f"the module failed: {result.get('msg')}")
    return Measure(seconds, peak), result


def run_curl(name: str, src: Path, workdir: Path) -> Measure:
    """Create the image through the API and PUT the file with curl, timed together like the module."""
    import openstack  # the tooling venv's openstacksdk

    started = time.monotonic()
    conn = openstack.connect()
    endpoint = conn.image.get_endpoint().rstrip("/")
    if not endpoint.endswith("/v2"):
        endpoint += "/v2"
    image = conn.image.post("/images", json={"name": name, "disk_format": "raw", "container_format": "bare"}).json()
    header_file = workdir / "curl-headers"
    header_file.touch(mode=0o600)
    header_file.write_text(f"X-Auth-Token: {conn.auth_token}\nContent-Type: application/octet-stream\n")
    subprocess.run(["curl", "--silent", "--show-error", "--fail", "-X", "PUT", "-H", f"@{header_file}",
                    "-T", str(src), f"{endpoint}/images/{image['id']}/file"], check=True)
    seconds = time.monotonic() - started
    header_file.unlink()
    status = conn.image.get(f"/images/{image['id']}").json()["status"]
    if status != "active":
        raise SystemExit(f"the curl upload left the image {status}")
    return Measure(seconds)


def delete_images(name: str) -> None:
    import openstack

    conn = openstack.connect()
    for hidden in (False, True):
        for image in conn.image.images(name=name, is_hidden=hidden):
            conn.image.delete_image(image, ignore_missing=True)


def main() -> int:
    use_tool_venv(__file__)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("1G"), help="file size (default 1G)")
    parser.add_argument("--runs", type=int, default=1, help="module+curl pairs to run (medians are reported)")
    parser.add_argument("--file", type=Path, help="use this file instead of a random one")
    parser.add_argument("--keep-file", action="store_true", help="do not delete the random file")
    parser.add_argument("--max-ratio", type=float, default=1.15)
    parser.add_argument("--max-rss-mib", type=float, default=100.0)
    args = parser.parse_args()

    ensure_cloud()
    workdir = Path(tempfile.mkdtemp(prefix="glance-images-bench-"))
    src = args.file or workdir / "image.raw"
    if args.file is None:
        make_file(src, args.size)
    collections = collection_path(workdir)
    size = src.stat().st_size
    name = f"benchmark-upload-{os.getpid()}"
    modules: list[Measure] = []
    curls: list[Measure] = []
    sent_seconds: list[float] = []
    try:
        for run in range(1, args.runs + 1):
            delete_images(name)
            log(f"run {run}/{args.runs}: image_upload of {size} bytes")
            measure, result = run_module(name, src, collections)
            modules.append(measure)
            sent_seconds.append(result.get("upload_seconds") or 0.0)
            delete_images(name)
            log(f"run {run}/{args.runs}: curl PUT of {size} bytes")
            curls.append(run_curl(name, src, workdir))
            delete_images(name)
    finally:
        delete_images(name)
        if args.keep_file:
            log(f"kept {src}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return report(size, modules, curls, sent_seconds, args.max_ratio, args.max_rss_mib)


def report(size: int, modules: list[Measure], curls: list[Measure], sent_seconds: list[float],
           max_ratio: float, max_rss_mib: float) -> int:
    module_seconds = statistics.median(m.seconds for m in modules)
    curl_seconds = statistics.median(c.seconds for c in curls)
    peak_mib = max(m.peak_rss for m in modules) / MIB
    ratio = module_seconds / curl_seconds
    rows = [
        ("file size", f"{size / MIB:.0f} MiB ({size} bytes)"),
        ("runs", str(len(modules))),
        ("image_upload wall time (ansible command)", f"{module_seconds:.2f} s ({size / MIB / module_seconds:.1f} MiB/s)"),
        ("  of which streaming the data", f"{statistics.median(sent_seconds):.2f} s"),
        ("curl PUT wall time (token + create + PUT)", f"{curl_seconds:.2f} s ({size / MIB / curl_seconds:.1f} MiB/s)"),
        ("every run: image_upload / curl", ", ".join(f"{m.seconds:.2f}/{c.seconds:.2f} s" for m, c in zip(modules, curls))),
        ("ratio image_upload / curl", f"{ratio:.3f} (target <= {max_ratio})"),
        ("image_upload peak memory (VmHWM)", f"{peak_mib:.1f} MiB (target < {max_rss_mib:.0f} MiB)"),
    ]
    width = max(len(row[0]) for row in rows)
    print()
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    ok = ratio <= max_ratio and 0 < peak_mib < max_rss_mib
    print(f"\nresult: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
