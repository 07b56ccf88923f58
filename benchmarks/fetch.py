#!/usr/bin/env python
"""Benchmark: glance.images.image_fetch against curl and the openstacksdk download loop.

    benchmarks/fetch.py [--size 1G] [--rounds 5] [--chunk-size N] [--delete-image]

Downloads one image of ``--size`` random bytes with four tools, alternating their order over
``--rounds`` rounds (so that a busy host slows them all alike), and prints the median times, their
ratios and each tool's peak memory:

  image_fetch   ``ansible localhost -m glance.images.image_fetch`` minus an ad-hoc ``image_info``
                run of the same image in the same round (Ansible's start-up and authentication);
                peak memory is the module process' VmHWM, sampled from /proc while it runs.
  curl -o       plain ``curl -o FILE`` of the image data URL: no verification, the transfer floor.
  curl|sha512   ``curl | tee FILE | sha512sum``: download, write and hash in a shell pipeline.
  sdk loop      openstacksdk ``download_image(stream=True)``, iterating the response, writing and
                hashing with sha512 (only the download loop is timed, not the SDK start-up).

Targets (exit status 1 when missed): image_fetch at most ``--max-ratio`` (1.25) times curl -o,
faster than the SDK loop and the curl pipeline, peak memory under ``--max-rss-mib`` (100).

Runs against the cloud of OS_CLOUD / OS_CLIENT_CONFIG_FILE when both are set; otherwise starts the
repository's local cloud (tools/local-cloud up, honouring GLANCE_IMAGES_CLOUD_DIR,
GLANCE_IMAGES_CLOUD_PORT_BASE and GLANCE_IMAGES_CLOUD_VENV). The image (``bench-fetch-<size>``)
is kept for the next run unless ``--delete-image``. Needs the tooling venv (.venv; the script re-runs itself with it) and curl.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from _common import MIB, VENV_BIN, PeakMemory, collection_path, ensure_cloud, log, parse_size, use_tool_venv

TOOLS = ("image_fetch", "curl -o", "curl|sha512", "sdk loop")

SDK_LOOP = r"""
import hashlib, json, sys, time, openstack
image_id, dest, chunk_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
conn = openstack.connect()
image = conn.image.get_image(image_id)
started = time.monotonic()
response = conn.image.download_image(image, stream=True)
hasher = hashlib.sha512()
with open(dest, "wb") as output:
    for chunk in response.iter_content(chunk_size=chunk_size):
        hasher.update(chunk)
        output.write(chunk)
print(json.dumps({"seconds": time.monotonic() - started, "sha512": hasher.hexdigest()}))
"""


@dataclass
class Samples:
    seconds: list[float] = field(default_factory=list)
    peak_rss: int = 0


def random_stream(size: int):
    """``size`` bytes that do not compress, generated 1 MiB at a time (memory stays flat)."""
    block = bytearray(os.urandom(MIB))
    sent = 0
    while sent < size:
        block[:8] = sent.to_bytes(8, "big")
        piece = bytes(block[: min(MIB, size - sent)])
        sent += len(piece)
        yield piece


def ensure_image(conn, size: int) -> dict:
    name = f"bench-fetch-{size}"
    for image in conn.image.images(name=name):
        if image.status == "active" and image.size == size:
            log(f"reusing image {name} ({image.id})")
            return conn.image.get(f"/images/{image.id}").json()
        conn.image.delete_image(image, ignore_missing=True)
    log(f"creating image {name} with {size} random bytes")
    created = conn.image.post("/images", json=dict(name=name, disk_format="raw", container_format="bare")).json()
    response = conn.image.put(f"/images/{created['id']}/file", data=random_stream(size),
                              headers={"Content-Type": "application/octet-stream"})
    response.raise_for_status()
    return conn.image.get(f"/images/{created['id']}").json()


def run_child(argv: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """Wall time, peak RSS (the command and the descendants it waited for) and stdout of a command.

    GNU time measures the peak when it is installed: a child forked from this Python process
    would otherwise count this process' memory, copied at fork, as its own.
    """
    with tempfile.NamedTemporaryFile(mode="r") as peak_file:
        timed = ["/usr/bin/time", "-q", "-f", "%M", "-o", peak_file.name] if os.path.exists("/usr/bin/time") else []
        started = time.monotonic()
        process = subprocess.run(timed + argv, capture_output=True, text=True, env=env, check=False)
        seconds = time.monotonic() - started
        if process.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({process.returncode}): {process.stderr.strip()}"
                               f"{process.stdout.strip()[-2000:]}")
        peak_text = peak_file.read().strip().splitlines()
    peak = int(peak_text[-1]) * 1024 if timed and peak_text and peak_text[-1].isdigit() else 0
    return seconds, peak, process.stdout


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        import openstack  # the tooling venv has it; the benchmark runs there

        self.args = args
        self.workdir = workdir
        self.conn = openstack.connect()
        self.image = ensure_image(self.conn, args.size)
        self.url = self.conn.image.get_endpoint().rstrip("/").removesuffix("/v2") + f"/v2/images/{self.image['id']}/file"
        self.env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collection_path(workdir),
                        ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
        self.samples = {tool: Samples() for tool in TOOLS}
        self.headers = workdir / "curl-headers"

    def dest(self, tool: str) -> Path:
        return self.workdir / ("out-" + re.sub(r"\W+", "-", tool))

    def fresh_token_headers(self) -> str:
        self.headers.write_text(f"X-Auth-Token: {self.conn.auth_token}\n")
        self.headers.chmod(0o600)
        return f"@{self.headers}"

    def ansible(self, module: str, module_args: str) -> float:
        argv = [str(VENV_BIN / "ansible"), "localhost", "-c", "local", "-i", "localhost,",
                "-e", f"ansible_python_interpreter={VENV_BIN / 'python'}", "-m", module, "-a", module_args]
        return run_child(argv, self.env)[0]

    def image_fetch(self, dest: Path) -> tuple[float, int]:
        info = self.ansible("glance.images.image_info", f"image={self.image['id']}")
        memory = PeakMemory("AnsiballZ_image_fetch")
        try:
            seconds = self.ansible("glance.images.image_fetch",
                                   f"image={self.image['id']} dest={dest} chunk_size={self.args.chunk_size}")
        finally:
            peak = memory.stop()
        return seconds - info, peak

    def curl(self, dest: Path) -> tuple[float, int]:
        seconds, peak, _stdout = run_child(["curl", "-sS", "-f", "-H", self.fresh_token_headers(), "-o", str(dest), self.url])
        return seconds, peak

    def curl_pipeline(self, dest: Path) -> tuple[float, int]:
        command = (f"set -o pipefail; curl -sS -f -H {shlex.quote(self.fresh_token_headers())} {shlex.quote(self.url)}"
                   f" | tee {shlex.quote(str(dest))} | sha512sum")
        seconds, peak, stdout = run_child(["bash", "-c", command])
        self.check(stdout.split()[0], "curl|sha512")
        return seconds, peak

    def sdk_loop(self, dest: Path) -> tuple[float, int]:
        _wall, peak, stdout = run_child([str(VENV_BIN / "python"), "-c", SDK_LOOP, self.image["id"], str(dest),
                                         str(self.args.chunk_size)])
        result = json.loads(stdout)
        self.check(result["sha512"], "sdk loop")
        return result["seconds"], peak

    def check(self, digest: str, tool: str) -> None:
        if digest != self.image["os_hash_value"]:
            raise RuntimeError(f"{tool} produced data with sha512 {digest}, expected {self.image['os_hash_value']}")

    def verify_file(self, dest: Path, tool: str) -> None:
        if dest.stat().st_size != self.args.size:
            raise RuntimeError(f"{tool} wrote {dest.stat().st_size} bytes, expected {self.args.size}")

    def run(self) -> None:
        runners: dict[str, Callable[[Path], tuple[float, int]]] = {
            "image_fetch": self.image_fetch, "curl -o": self.curl,
            "curl|sha512": self.curl_pipeline, "sdk loop": self.sdk_loop,
        }
        for round_number in range(self.args.rounds):
            order = TOOLS[round_number % len(TOOLS):] + TOOLS[:round_number % len(TOOLS)]
            for tool in order:
                dest = self.dest(tool)
                dest.unlink(missing_ok=True)
                seconds, peak = runners[tool](dest)
                self.verify_file(dest, tool)
                dest.unlink()
                self.samples[tool].seconds.append(seconds)
                self.samples[tool].peak_rss = max(self.samples[tool].peak_rss, peak)
                log(f"round {round_number + 1}/{self.args.rounds} {tool:12} {seconds:7.2f} s  peak {peak / MIB:6.1f} MiB")

    def report(self) -> bool:
        medians = {tool: statistics.median(samples.seconds) for tool, samples in self.samples.items()}
        floor = medians["curl -o"]
        size_mib = self.args.size / MIB
        print(f"\nimage {self.image['id']}: {size_mib:.0f} MiB, {self.args.rounds} rounds, alternating order")
        print(f"{'tool':14}{'median s':>10}{'MiB/s':>9}{'x curl -o':>11}{'peak MiB':>10}   all runs (s)")
        for tool in TOOLS:
            samples = self.samples[tool]
            runs = " ".join(f"{value:.2f}" for value in samples.seconds)
            print(f"{tool:14}{medians[tool]:10.2f}{size_mib / medians[tool]:9.0f}{medians[tool] / floor:11.2f}"
                  f"{samples.peak_rss / MIB:10.1f}   {runs}")
        fetch = medians["image_fetch"]
        checks = {
            f"image_fetch <= {self.args.max_ratio} x curl -o": fetch <= self.args.max_ratio * floor,
            "image_fetch faster than the sdk loop": fetch < medians["sdk loop"],
            "image_fetch faster than curl|tee|sha512sum": fetch < medians["curl|sha512"],
            f"image_fetch peak memory < {self.args.max_rss_mib} MiB": self.samples["image_fetch"].peak_rss < self.args.max_rss_mib * MIB,
        }
        print()
        for name, passed in checks.items():
            print(f"{'PASS' if passed else 'FAIL'}  {name}")
        return all(checks.values())


def main() -> int:
    use_tool_venv(__file__)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--size", type=parse_size, default=1024 * MIB, help="image size (default 1G)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--chunk-size", type=int, default=4 * MIB)
    parser.add_argument("--max-ratio", type=float, default=1.25)
    parser.add_argument("--max-rss-mib", type=float, default=100)
    parser.add_argument("--workdir", type=Path, help="where the downloads go (default: a temporary directory)")
    parser.add_argument("--delete-image", action="store_true", help="delete the benchmark image afterwards")
    args = parser.parse_args()
    ensure_cloud()
    with tempfile.TemporaryDirectory(prefix="glance-images-bench-fetch-", dir=args.workdir) as workdir:
        bench = Bench(args, Path(workdir))
        try:
            bench.run()
            passed = bench.report()
        finally:
            if args.delete_image:
                bench.conn.image.delete_image(bench.image["id"], ignore_missing=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
