"""Stand-in for the pip bootstrap script that ansible-test downloads from a host this machine cannot reach.

ansible-test runs it as ``python get_pip_X_Y.py [pip options] pip==X.Y [--no-setuptools] [--no-wheel]``
inside a fresh venv. It bootstraps pip from the interpreter's own ensurepip, then installs the
requested packages from the package index as usual.
"""
from __future__ import annotations

import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
sys.exit(subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *args], check=False).returncode)
