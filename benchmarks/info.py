#!/usr/bin/env python
"""Benchmark: image_info listing time grows linearly with the number of images.

Creates COUNT data-less images (tagged ``bench-info``) in the local cloud, then lists the first
N = COUNT/4, COUNT/2 and COUNT of them with ``ansible localhost -m glance.images.image_info``
(minus an ad-hoc run that lists nothing, to remove Ansible's start-up), and prints the time per
image for each N next to the smallest N's: ratios near 1.0 mean linear, a ratio near 4 at the
largest N would mean quadratic. The local cloud serves pages of 100 images, so 2,000 images
take 20 requests.

    benchmarks/info.py [--count 2000] [--rounds 3] [--keep]

Runs against the cloud of OS_CLOUD / OS_CLIENT_CONFIG_FILE when both are set; otherwise starts the
repository's local cloud. Needs the tooling venv (.venv; the script re-runs itself with it).
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
from pathlib import Path

from _common import collection_path, ensure_cloud, log, use_tool_venv

TAG = "bench-info"


def adhoc(args: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run([str(Path(sys.executable).parent / "ansible"), "localhost", "-m", "glance.images.image_info",
                             "-a", args], capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"ansible failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def ensure_images(conn, count: int) -> None:
    existing = sum(1 for _image in conn.image.images(tag=TAG))
    for index in range(existing, count):
        conn.image.create_image(name=f"{TAG}-{index:05d}", disk_format="raw", container_format="bare", tags=[TAG])
    log(f"{count} images tagged {TAG} ({count - existing if count > existing else 0} created)")


def main() -> int:
    use_tool_venv(__file__)
    import openstack  # pylint: disable=import-outside-toplevel

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the images for the next run")
    options = parser.parse_args()
    ensure_cloud()
    workdir = Path(tempfile.mkdtemp(prefix="glance-images-bench-info-"))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_path(workdir), ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    conn = openstack.connect(cloud=os.environ.get("OS_CLOUD", "glance-admin"))
    ensure_images(conn, options.count)
    sizes = [options.count // 4, options.count // 2, options.count]
    try:
        baseline = statistics.median(adhoc(json.dumps({"filters": {"tag": "no-such-tag"}}), env) for _round in range(options.rounds))
        per_image = {}
        for size in sizes:
            runs = [adhoc(json.dumps({"filters": {"tag": TAG}, "limit": size}), env) for _round in range(options.rounds)]
            per_image[size] = max(statistics.median(runs) - baseline, 1e-6) / size
        print(f"{'images':>8} {'ms/image':>10} {'ratio':>6}")
        for size in sizes:
            print(f"{size:>8} {per_image[size] * 1000:>10.3f} {per_image[size] / per_image[sizes[0]]:>6.2f}")
        print(f"(Ansible start-up baseline {baseline:.2f} s removed; ratio = time per image vs. {sizes[0]} images)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if not options.keep:
            for image in list(conn.image.images(tag=TAG)):
                conn.image.delete_image(image)
    return 0


if __name__ == "__main__":
    sys.exit(main())
