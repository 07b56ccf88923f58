"""What the benchmarks share: sizes, the tooling venv, the local cloud, a collections path and
peak-memory sampling of module processes."""
from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(os.environ.get("GLANCE_IMAGES_TOOL_VENV", REPO / ".venv")) / "bin"
MIB = 1024 * 1024
UNITS = {"": 1, "K": 1024, "M": MIB, "G": 1024 * MIB, "T": 1024 * 1024 * MIB}


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"size must look like 1G, 512M or 1073741824, not {text!r}")
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


def log(message: str) -> None:
    print(f"[benchmark] {message}", file=sys.stderr, flush=True)


def use_tool_venv(script: str) -> None:
    """Re-run ``script`` with the tooling venv's Python when this one lacks openstacksdk."""
    try:
        import openstack  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
    except ImportError:
        venv_python = VENV_BIN / "python"
        if Path(sys.executable) != venv_python and venv_python.exists():
            os.execv(str(venv_python), [str(venv_python), script, *sys.argv[1:]])
        raise SystemExit("openstacksdk is missing: create the tooling venv (tools/test units does) "
                         "or set GLANCE_IMAGES_TOOL_VENV") from None


def ensure_cloud() -> None:
    """Use the configured cloud, or start the local one and take its environment."""
    if os.environ.get("OS_CLOUD") and os.environ.get("OS_CLIENT_CONFIG_FILE"):
        return
    log("no OS_CLOUD/OS_CLIENT_CONFIG_FILE: starting the local cloud (tools/local-cloud up)")
    local_cloud = str(REPO / "tools" / "local-cloud")
    subprocess.run([local_cloud, "up"], check=True, stdout=subprocess.DEVNULL)
    env_text = subprocess.run([local_cloud, "env"], check=True, capture_output=True, text=True).stdout
    for line in env_text.splitlines():
        if line.startswith("export "):
            key, _sep, value = line[len("export "):].partition("=")
            os.environ[key] = shlex.split(value)[0] if value else ""


def collection_path(workdir: Path) -> str:
    """A collections path where glance.images is this checkout (the checkout may sit anywhere)."""
    root = workdir / "collections"
    link = root / "ansible_collections" / "glance" / "images"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(REPO)
    return str(root)


class PeakMemory:
    """Samples VmHWM of every process whose command line contains ``marker`` until stopped."""

    def __init__(self, marker: str) -> None:
        self.marker = marker.encode()
        self.peak_kib = 0
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while self.running:
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                        if self.marker not in cmdline.read():
                            continue
                    with open(f"/proc/{pid}/status", encoding="utf-8") as status:
                        for line in status:
                            if line.startswith("VmHWM:"):
                                self.peak_kib = max(self.peak_kib, int(line.split()[1]))
                except OSError:
                    continue
            time.sleep(0.02)

    def stop(self) -> int:
        """Stop sampling; the peak in bytes."""
        self.running = False
        self.thread.join()
        return self.peak_kib * 1024
