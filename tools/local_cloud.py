"""Run a real, local OpenStack cloud (Keystone + Glance) on loopback.

Used by the collection's integration tests, benchmarks and demo.

    tools/local-cloud up [--region-two]   start (idempotent), print env.sh
    tools/local-cloud down                stop every process started here
    tools/local-cloud status              health of each service (exit 0 = all healthy)
    tools/local-cloud env                 print the env.sh export lines
    tools/local-cloud reset               down + delete the state (the venv is kept)

Environment knobs (several copies can run side by side):
    GLANCE_IMAGES_CLOUD_DIR        state folder (default <repo>/.local-cloud)
    GLANCE_IMAGES_CLOUD_PORT_BASE  keystone=base, glance=base+1, files=base+2,
                                   glance RegionTwo=base+3 (default 25000)
    GLANCE_IMAGES_CLOUD_VENV       venv with glance/keystone (default <state>/venv)
    GLANCE_IMAGES_CLOUD_REGION_TWO=1   same as `up --region-two`

Standard library only; runs on Python >= 3.10.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
DEFAULT_PORT_BASE = 25000
HOST = "127.0.0.1"

ADMIN_USER, ADMIN_PASSWORD = "admin", "local-cloud-admin"
GLANCE_USER, GLANCE_PASSWORD = "glance", "local-cloud-glance"
DEMO_USER, DEMO_PASSWORD = "demo", "local-cloud-demo"
REGION_ONE, REGION_TWO = "RegionOne", "RegionTwo"

# Top-level modules the venv must provide. openstacksdk is not needed by the
# cloud itself, but the tests/benchmarks/demo drive the cloud with it.
VENV_MODULES = ("glance", "keystone", "gunicorn", "openstack")
VENV_PACKAGES = ("glance", "keystone", "gunicorn", "openstacksdk")

HEALTH_TIMEOUT_S = 60.0
STOP_GRACE_S = 5.0
LOG_TAIL_LINES = 30
CIRROS_LIKE_SIZE = 4 * 1024 * 1024
IMAGE_SIZE_CAP = 1024**4  # 1 TiB

# Gunicorn settings:
# * gthread workers: the worker's main loop keeps beating the arbiter's
#   heartbeat while request threads run, so a long upload never gets the
#   worker killed, and other requests are served by the other threads.
# * Glance runs import tasks (web-download, copy-image, glance-direct,
#   glance-download) in a native thread pool inside the API process
#   (glance.wsgi.api sets the 'native' threadpool model); gunicorn leaves those
#   threads alone as long as the worker is not recycled, so no --max-requests.
# * --timeout 3600 rather than 0: with timeout 0 gunicorn hands the workers a
#   poll timeout of 0 (busy loop in the sync worker); 3600 s only kills a
#   worker whose main loop is truly stuck.
KEYSTONE_GUNICORN = ("--workers", "2", "--worker-class", "gthread", "--threads", "4",
                     "--timeout", "120")
GLANCE_GUNICORN = ("--workers", "2", "--worker-class", "gthread", "--threads", "8",
                   "--timeout", "3600")


class CloudError(Exception):
    """A failure reported to the user without a traceback."""


# --------------------------------------------------------------------------- layout


@dataclasses.dataclass(frozen=True)
class Layout:
    """Every path and port of one cloud, derived from the environment knobs."""

    state: Path
    port_base: int
    venv: Path

    @classmethod
    def from_env(cls) -> Layout:
        state = Path(os.environ.get("GLANCE_IMAGES_CLOUD_DIR") or REPO_DIR / ".local-cloud")
        state = state.expanduser().resolve()
        port_text = os.environ.get("GLANCE_IMAGES_CLOUD_PORT_BASE") or str(DEFAULT_PORT_BASE)
        try:
            port_base = int(port_text)
        except ValueError:
            raise CloudError(f"GLANCE_IMAGES_CLOUD_PORT_BASE is not a number: {port_text!r}")
        if not 1024 <= port_base <= 65532:
            raise CloudError(f"GLANCE_IMAGES_CLOUD_PORT_BASE out of range: {port_base}")
        venv = Path(os.environ.get("GLANCE_IMAGES_CLOUD_VENV") or state / "venv")
        return cls(state=state, port_base=port_base, venv=venv.expanduser().resolve())

    # ports and URLs
    @property
    def keystone_port(self) -> int:
        return self.port_base

    @property
    def www_port(self) -> int:
        return self.port_base + 2

    def glance_port(self, region: str) -> int:
        return self.port_base + (1 if region == REGION_ONE else 3)

    @property
    def keystone_url(self) -> str:
        return f"http://{HOST}:{self.keystone_port}/v3"

    @property
    def www_url(self) -> str:
        return f"http://{HOST}:{self.www_port}"

    def glance_url(self, region: str) -> str:
        return f"http://{HOST}:{self.glance_port(region)}"

    # folders and files
    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def run(self) -> Path:
        return self.state / "run"

    @property
    def www(self) -> Path:
        return self.state / "www"

    @property
    def etc(self) -> Path:
        return self.state / "etc"

    @property
    def db(self) -> Path:
        return self.state / "db"

    @property
    def keystone_dir(self) -> Path:
        return self.etc / "keystone"

    def glance_dir(self, region: str) -> Path:
        return self.etc / f"glance-{region.lower()}"

    def store_dir(self, region: str) -> Path:
        return self.state / "stores" / region.lower()

    @property
    def clouds_yaml(self) -> Path:
        return self.state / "clouds.yaml"

    @property
    def env_sh(self) -> Path:
        return self.state / "env.sh"

    @property
    def region_two_flag(self) -> Path:
        return self.state / "region-two.enabled"

    def marker(self, name: str) -> Path:
        return self.state / "done" / name

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)


# --------------------------------------------------------------------------- small helpers


def log(message: str) -> None:
    print(f"[local-cloud] {message}", file=sys.stderr, flush=True)


def write_if_changed(path: Path, content: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != content:
        path.write_text(content)
    path.chmod(mode)


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not path.exists():
        return "(no log file)"
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - 64 * 1024))
        text = handle.read().decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def run_checked(cmd: list[str], what: str, log_file: Path, env: dict[str, str] | None = None) -> None:
    """Run a one-shot command, appending its output to log_file."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, check=False)
    if result.returncode != 0:
        raise CloudError(f"{what} failed (exit {result.returncode}); log: {log_file}\n"
                         f"--- last {LOG_TAIL_LINES} lines of {log_file} ---\n{tail(log_file)}")


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Serialise concurrent invocations working on the same state/venv."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def http_open(request: urllib.request.Request | str, timeout: float = 10.0):
    """urlopen that never goes through a proxy (everything is on loopback)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return opener.open(request, timeout=timeout)


def http_status(url: str, timeout: float = 3.0) -> int | None:
    """HTTP status of a GET, or None when nothing answers."""
    try:
        with http_open(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ValueError):
        return None


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def child_env(layout: Layout, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update({
        "PATH": f"{layout.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
        "VIRTUAL_ENV": str(layout.venv),
        "no_proxy": "127.0.0.1,localhost",
        "NO_PROXY": "127.0.0.1,localhost",
    })
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    env.update(extra or {})
    return env


# --------------------------------------------------------------------------- venv


def venv_is_usable(venv: Path) -> bool:
    python = venv / "bin" / "python"
    if not python.exists():
        return False
    probe = "import " + ", ".join(VENV_MODULES)
    return subprocess.run([str(python), "-c", probe], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, check=False).returncode == 0


def candidate_pythons() -> list[str]:
    """Newest interpreter first (tools/find-python), then older ones as fallbacks.

    glance/keystone pull in eventlet, greenlet and other C extensions that tend
    to lag behind brand-new CPython releases; when the newest interpreter cannot
    install or import them we fall back to an older minor version.
    """
    found: list[str] = []
    result = subprocess.run(["bash", str(REPO_DIR / "tools" / "find-python")],
                            capture_output=True, text=True, check=False)
    if result.returncode == 0 and result.stdout.strip():
        found.append(result.stdout.strip())
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    for minor in (13, 12, 11, 10):
        which = shutil.which(f"python3.{minor}")
        found += [which] if which else []
        found += [str(p / "bin" / "python3")
                  for p in sorted(pyenv_root.glob(f"versions/3.{minor}.*"), reverse=True)
                  if (p / "bin" / "python3").exists()]
    unique: list[str] = []
    for python in found:
        if python not in unique:
            unique.append(python)
    return unique


def ensure_venv(layout: Layout) -> None:
    with file_lock(layout.venv.with_name(layout.venv.name + ".lock")):
        if venv_is_usable(layout.venv):
            return
        pip_log = layout.logs / "venv-install.log"
        errors: list[str] = []
        for python in candidate_pythons():
            log(f"creating venv {layout.venv} with {python} and installing "
                f"{' '.join(VENV_PACKAGES)} (about a minute)")
            shutil.rmtree(layout.venv, ignore_errors=True)
            try:
                run_checked([python, "-m", "venv", str(layout.venv)], "venv creation", pip_log)
                run_checked([layout.bin("python"), "-m", "pip", "install", "-q", *VENV_PACKAGES],
                            "pip install", pip_log)
            except CloudError as error:
                errors.append(f"{python}: {error}")
                continue
            if venv_is_usable(layout.venv):
                return
            errors.append(f"{python}: installed, but `import {', '.join(VENV_MODULES)}` fails")
        raise CloudError("could not build a working venv:\n" + "\n".join(errors))


# --------------------------------------------------------------------------- configs


def keystone_conf(layout: Layout) -> str:
    return f"""[DEFAULT]
debug = false

[database]
connection = sqlite:///{layout.db / 'keystone.sqlite'}

[identity]
# cheap hashes: every token request checks a password; this is a test cloud
password_hash_rounds = 4

[token]
provider = fernet
expiration = 14400

[fernet_tokens]
key_repository = {layout.state / 'keystone-keys' / 'fernet'}

[fernet_receipts]
key_repository = {layout.state / 'keystone-keys' / 'fernet-receipts'}

[credential]
key_repository = {layout.state / 'keystone-keys' / 'credential'}
"""


# SQLite lets a transaction that read first fail at once ("database is locked") when it then
# writes while another connection writes; Glance's import threads lose their task updates that
# way and the import hangs in "pending". Starting every transaction with BEGIN IMMEDIATE makes
# writers queue on the busy timeout instead. Imported by both WSGI entry points below.
SQLITE_SERIAL = '''"""Generated by tools/local-cloud: SQLite transactions take the write lock up front."""
import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine

BUSY_TIMEOUT_MS = 120000


@event.listens_for(Engine, "connect")
def _take_over_transactions(dbapi_connection, _record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None
        dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


# Class-level listeners run before oslo.db's per-engine one, which emits a plain BEGIN unless
# its "in_transaction" marker is already set (and clears the marker on commit and rollback).
@event.listens_for(Engine, "begin")
def _begin_immediate(connection):
    if connection.dialect.name == "sqlite" and "in_transaction" not in connection.info:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        connection.info["in_transaction"] = True
'''

KEYSTONE_WSGI = '''"""Generated by tools/local-cloud: keystone parses sys.argv, gunicorn's must go."""
import sys

import sqlite_serial  # noqa: F401

sys.argv = sys.argv[:1]

from keystone.server.wsgi import initialize_public_application  # noqa: E402

application = initialize_public_application()
'''

GLANCE_WSGI = '''"""Generated by tools/local-cloud: Glance's WSGI application over serialised SQLite."""
import sqlite_serial  # noqa: F401

from glance.wsgi.api import application  # noqa: E402,F401
'''


def import_methods(region: str) -> list[str]:
    """RegionOne offers every import method; RegionTwo lacks copy-image, so that tests can see
    how a module reacts to a method the cloud does not offer."""
    methods = ["glance-direct", "web-download", "copy-image", "glance-download"]
    return methods if region == REGION_ONE else [m for m in methods if m != "copy-image"]


def glance_conf(layout: Layout, region: str) -> str:
    stores = layout.store_dir(region)
    allowed_ports = sorted({80, 443, layout.www_port, *(layout.glance_port(r)
                                                        for r in (REGION_ONE, REGION_TWO))})
    return f"""[DEFAULT]
debug = false
bind_host = {HOST}
bind_port = {layout.glance_port(region)}
worker_self_reference_url = {layout.glance_url(region)}
enabled_backends = fs:file, fs2:file
enabled_import_methods = [{','.join(import_methods(region))}]
image_size_cap = {IMAGE_SIZE_CAP}
user_storage_quota = 0
# Small pages, so that listing a few hundred images exercises pagination.
api_limit_max = 100

[database]
connection = sqlite:///{layout.db / f'glance-{region.lower()}.sqlite'}

[paste_deploy]
flavor = keystone
config_file = {layout.glance_dir(region) / 'glance-api-paste.ini'}

[keystone_authtoken]
www_authenticate_uri = {layout.keystone_url}
auth_url = {layout.keystone_url}
auth_type = password
username = {GLANCE_USER}
password = {GLANCE_PASSWORD}
project_name = service
user_domain_name = Default
project_domain_name = Default
# the one keystone is registered in RegionOne with a public endpoint only
# (the middleware defaults to the internal interface of its own region)
region_name = {REGION_ONE}
interface = public

[glance_store]
default_backend = fs

[fs]
store_description = Default filesystem store
filesystem_store_datadir = {stores / 'fs'}

[fs2]
store_description = Second filesystem store
filesystem_store_datadir = {stores / 'fs2'}

[os_glance_staging_store]
filesystem_store_datadir = {stores / 'staging'}

[os_glance_tasks_store]
filesystem_store_datadir = {stores / 'tasks'}

[import_filtering_opts]
allowed_hosts = [{HOST}]
allowed_ports = [{','.join(str(p) for p in allowed_ports)}]

[oslo_concurrency]
lock_path = {layout.state / 'locks'}
"""


def write_glance_config(layout: Layout, region: str) -> None:
    conf_dir = layout.glance_dir(region)
    write_if_changed(conf_dir / "glance-api.conf", glance_conf(layout, region), 0o600)
    paste_src = layout.venv / "etc" / "glance" / "glance-api-paste.ini"
    if not paste_src.exists():
        raise CloudError(f"glance paste file not found in the venv: {paste_src}")
    write_if_changed(conf_dir / "glance-api-paste.ini", paste_src.read_text())
    for store in ("fs", "fs2", "staging", "tasks"):
        (layout.store_dir(region) / store).mkdir(parents=True, exist_ok=True)


def write_configs(layout: Layout, regions: list[str]) -> None:
    for folder in (layout.logs, layout.run, layout.www, layout.db, layout.state / "locks"):
        folder.mkdir(parents=True, exist_ok=True)
    write_if_changed(layout.keystone_dir / "keystone.conf", keystone_conf(layout), 0o600)
    write_if_changed(layout.keystone_dir / "keystone_wsgi.py", KEYSTONE_WSGI)
    write_if_changed(layout.keystone_dir / "sqlite_serial.py", SQLITE_SERIAL)
    write_if_changed(layout.state / "glance_wsgi.py", GLANCE_WSGI)
    write_if_changed(layout.state / "sqlite_serial.py", SQLITE_SERIAL)
    for region in regions:
        write_glance_config(layout, region)
    write_cirros_like(layout.www / "cirros-like.img")


def write_cirros_like(path: Path) -> None:
    """A few MiB of deterministic pseudo-random bytes (same content everywhere)."""
    if path.exists() and path.stat().st_size == CIRROS_LIKE_SIZE:
        return
    block = hashlib.sha512(b"cirros-like").digest()
    chunks = []
    for counter in range(CIRROS_LIKE_SIZE // len(block)):
        chunks.append(hashlib.sha512(block + counter.to_bytes(8, "big")).digest())
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(b"".join(chunks))
    tmp.replace(path)


# --------------------------------------------------------------------------- databases


def enable_sqlite_wal(db_file: Path) -> None:
    """WAL is persistent in the file; lets readers and a writer work concurrently."""
    with contextlib.closing(sqlite3.connect(db_file)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")


def init_keystone(layout: Layout) -> None:
    if layout.marker("keystone-db").exists():
        return
    log("initialising keystone (keys, database, bootstrap)")
    conf = ["--config-file", str(layout.keystone_dir / "keystone.conf")]
    manage = [layout.bin("keystone-manage"), *conf]
    user = ["--keystone-user", str(os.getuid()), "--keystone-group", str(os.getgid())]
    log_file = layout.logs / "keystone-manage.log"
    env = child_env(layout)
    for keys in ("fernet", "fernet-receipts", "credential"):
        (layout.state / "keystone-keys" / keys).mkdir(parents=True, exist_ok=True, mode=0o700)
    run_checked([*manage, "fernet_setup", *user], "keystone-manage fernet_setup", log_file, env)
    run_checked([*manage, "credential_setup", *user], "keystone-manage credential_setup",
                log_file, env)
    run_checked([*manage, "db_sync"], "keystone-manage db_sync", log_file, env)
    enable_sqlite_wal(layout.db / "keystone.sqlite")
    run_checked([*manage, "bootstrap",
                 "--bootstrap-username", ADMIN_USER,
                 "--bootstrap-password", ADMIN_PASSWORD,
                 "--bootstrap-project-name", "admin",
                 "--bootstrap-role-name", "admin",
                 "--bootstrap-service-name", "keystone",
                 "--bootstrap-region-id", REGION_ONE,
                 "--bootstrap-public-url", layout.keystone_url],
                "keystone-manage bootstrap", log_file, env)
    mark_done(layout, "keystone-db")


def init_glance(layout: Layout, region: str) -> None:
    name = f"glance-{region.lower()}-db"
    if layout.marker(name).exists():
        return
    log(f"initialising glance database for {region}")
    conf = layout.glance_dir(region) / "glance-api.conf"
    run_checked([layout.bin("glance-manage"), "--config-file", str(conf), "db_sync"],
                f"glance-manage db_sync ({region})", layout.logs / "glance-manage.log",
                child_env(layout, {"OS_GLANCE_CONFIG_DIR": str(conf.parent)}))
    enable_sqlite_wal(layout.db / f"glance-{region.lower()}.sqlite")
    mark_done(layout, name)


def mark_done(layout: Layout, name: str) -> None:
    marker = layout.marker(name)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))


# --------------------------------------------------------------------------- services


@dataclasses.dataclass(frozen=True)
class Service:
    name: str
    port: int
    health_url: str
    command: list[str]
    env: dict[str, str]


def gunicorn_command(layout: Layout, port: int, settings: tuple[str, ...],
                     app: str, extra: tuple[str, ...] = ()) -> list[str]:
    return [layout.bin("gunicorn"), "--bind", f"{HOST}:{port}", *settings,
            "--graceful-timeout", str(int(STOP_GRACE_S)), "--keep-alive", "5",
            "--access-logfile", "-", *gunicorn_no_control_socket(layout), *extra, app]


def gunicorn_no_control_socket(layout: Layout) -> tuple[str, ...]:
    """gunicorn >= 27 opens a control socket at a fixed ~/.gunicorn path, shared by
    every instance on the machine; turn it off where the option exists."""
    for config in layout.venv.glob("lib/python3*/site-packages/gunicorn/config.py"):
        if "--no-control-socket" in config.read_text():
            return ("--no-control-socket",)
    return ()


def keystone_service(layout: Layout) -> Service:
    conf_dir = layout.keystone_dir
    return Service(
        name="keystone", port=layout.keystone_port, health_url=layout.keystone_url,
        command=gunicorn_command(layout, layout.keystone_port, KEYSTONE_GUNICORN,
                                 "keystone_wsgi:application",
                                 ("--chdir", str(conf_dir), "--pythonpath", str(conf_dir))),
        env=child_env(layout, {"OS_KEYSTONE_CONFIG_DIR": str(conf_dir),
                               "OS_KEYSTONE_CONFIG_FILES": "keystone.conf"}))


def glance_service(layout: Layout, region: str) -> Service:
    port = layout.glance_port(region)
    return Service(
        name="glance" if region == REGION_ONE else "glance-regiontwo",
        port=port, health_url=f"{layout.glance_url(region)}/versions",
        command=gunicorn_command(layout, port, GLANCE_GUNICORN, "glance_wsgi:application",
                                 ("--chdir", str(layout.state), "--pythonpath", str(layout.state))),
        env=child_env(layout, {"OS_GLANCE_CONFIG_DIR": str(layout.glance_dir(region))}))


def www_service(layout: Layout) -> Service:
    return Service(
        name="www", port=layout.www_port, health_url=f"{layout.www_url}/",
        command=[layout.bin("python"), "-m", "http.server", "--bind", HOST,
                 "--directory", str(layout.www), str(layout.www_port)],
        env=child_env(layout))


def region_two_enabled(layout: Layout) -> bool:
    return layout.region_two_flag.exists()


def regions(layout: Layout) -> list[str]:
    return [REGION_ONE, REGION_TWO] if region_two_enabled(layout) else [REGION_ONE]


def all_services(layout: Layout) -> list[Service]:
    services = [keystone_service(layout), www_service(layout)]
    return services + [glance_service(layout, region) for region in regions(layout)]


def pid_file(layout: Layout, service: Service) -> Path:
    return layout.run / f"{service.name}.pid"


def process_is_ours(layout: Layout, pid: int) -> bool:
    """True when pid is alive (not a zombie) and runs inside this state dir.

    Every service is started with its working directory below the state dir,
    which guards against pid reuse (gunicorn's setproctitle clobbers environ).
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except (OSError, IndexError):
        return False
    return cwd == layout.state or layout.state in cwd.parents


def running_pid(layout: Layout, service: Service) -> int | None:
    path = pid_file(layout, service)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if process_is_ours(layout, pid) else None


def is_healthy(service: Service) -> bool:
    status = http_status(service.health_url)
    return status is not None and status < 400


def service_log(layout: Layout, service: Service) -> Path:
    return layout.logs / f"{service.name}.log"


def start_service(layout: Layout, service: Service) -> None:
    if running_pid(layout, service) is not None:
        return
    if port_in_use(service.port):
        raise CloudError(f"{service.name}: port {HOST}:{service.port} is already used by "
                         "another process (set GLANCE_IMAGES_CLOUD_PORT_BASE to move this cloud)")
    log_path = service_log(layout, service)
    log(f"starting {service.name} on {HOST}:{service.port} (log: {log_path})")
    with log_path.open("ab") as out:
        out.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} "
                  f"{' '.join(service.command)}\n".encode())
        out.flush()
        process = subprocess.Popen(service.command, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=service.env,
                                   cwd=layout.state, start_new_session=True)
    pid_file(layout, service).write_text(f"{process.pid}\n")


def wait_healthy(layout: Layout, services: list[Service]) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    pending = list(services)
    while pending:
        for service in list(pending):
            if running_pid(layout, service) is None:
                fail_service(layout, service, "exited during start-up")
            if is_healthy(service):
                pending.remove(service)
        if pending and time.monotonic() > deadline:
            fail_service(layout, pending[0], f"not healthy after {HEALTH_TIMEOUT_S:.0f} s")
        if pending:
            time.sleep(0.3)


def fail_service(layout: Layout, service: Service, reason: str) -> None:
    log_path = service_log(layout, service)
    raise CloudError(f"{service.name} {reason} ({service.health_url}); log: {log_path}\n"
                     f"--- last {LOG_TAIL_LINES} lines of {log_path} ---\n{tail(log_path)}")


def stop_service(layout: Layout, service: Service) -> bool:
    """Stop the service's process group: SIGTERM, then SIGKILL. True if it was running."""
    pid = running_pid(layout, service)
    pid_file(layout, service).unlink(missing_ok=True)
    if pid is None:
        return False
    log(f"stopping {service.name} (pid {pid})")
    signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S + 1
    while time.monotonic() < deadline and group_alive(pid):
        time.sleep(0.1)
    if group_alive(pid):
        signal_group(pid, signal.SIGKILL)
        time.sleep(0.2)
    return True


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
    """True while any non-zombie process remains in the process group."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


# --------------------------------------------------------------------------- keystone bootstrap


class Keystone:
    """Minimal Keystone v3 admin client (urllib, no proxy)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.token = self._issue_admin_token()

    def _issue_admin_token(self) -> str:
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": ADMIN_USER, "password": ADMIN_PASSWORD, "domain": {"id": "default"}}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
        request = urllib.request.Request(f"{self.url}/auth/tokens", method="POST",
                                         data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with http_open(request) as response:
            return response.headers["X-Subject-Token"]

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.url}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"X-Auth-Token": self.token, "Content-Type": "application/json"})
        try:
            with http_open(request) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise CloudError(f"keystone {method} {path} -> {error.code}: {detail}")
        return json.loads(payload) if payload else {}

    def find_one(self, collection: str, query: str) -> dict | None:
        items = self.call("GET", f"/{collection}?{query}")[collection]
        return items[0] if items else None

    def ensure_project(self, name: str, description: str) -> str:
        found = self.find_one("projects", f"name={name}&domain_id=default")
        if found:
            return found["id"]
        body = {"project": {"name": name, "domain_id": "default", "description": description}}
        return self.call("POST", "/projects", body)["project"]["id"]

    def ensure_user(self, name: str, password: str, project_id: str) -> str:
        found = self.find_one("users", f"name={name}&domain_id=default")
        if found:
            return found["id"]
        body = {"user": {"name": name, "password": password, "domain_id": "default",
                         "default_project_id": project_id}}
        return self.call("POST", "/users", body)["user"]["id"]

    def role_id(self, name: str) -> str:
        found = self.find_one("roles", f"name={name}")
        if found:
            return found["id"]
        return self.call("POST", "/roles", {"role": {"name": name}})["role"]["id"]

    def grant(self, project_id: str, user_id: str, role: str) -> None:
        self.call("PUT", f"/projects/{project_id}/users/{user_id}/roles/{self.role_id(role)}")

    def ensure_region(self, region: str) -> None:
        if not any(r["id"] == region for r in self.call("GET", "/regions")["regions"]):
            self.call("POST", "/regions", {"region": {"id": region}})

    def ensure_service(self, name: str, service_type: str) -> str:
        found = self.find_one("services", f"type={service_type}")
        if found:
            return found["id"]
        body = {"service": {"name": name, "type": service_type, "enabled": True}}
        return self.call("POST", "/services", body)["service"]["id"]

    def ensure_endpoint(self, service_id: str, region: str, interface: str, url: str) -> None:
        endpoints = self.call("GET", f"/endpoints?service_id={service_id}"
                                     f"&interface={interface}&region_id={region}")["endpoints"]
        matching = [e for e in endpoints if e.get("region_id") == region]
        if not matching:
            body = {"endpoint": {"service_id": service_id, "region_id": region,
                                 "interface": interface, "url": url, "enabled": True}}
            self.call("POST", "/endpoints", body)
        elif matching[0]["url"] != url:
            self.call("PATCH", f"/endpoints/{matching[0]['id']}", {"endpoint": {"url": url}})


def bootstrap_identity(layout: Layout) -> None:
    """Users, projects and the image service catalog; each step skips what exists."""
    wanted = "+".join(regions(layout))
    marker = layout.marker("keystone-bootstrap")
    if marker.exists() and marker.read_text().strip() == wanted:
        return
    log(f"bootstrapping keystone users, projects and image endpoints ({wanted})")
    keystone = Keystone(layout.keystone_url)
    service_project = keystone.ensure_project("service", "Service users")
    glance_user = keystone.ensure_user(GLANCE_USER, GLANCE_PASSWORD, service_project)
    keystone.grant(service_project, glance_user, "admin")
    keystone.grant(service_project, glance_user, "service")
    demo_project = keystone.ensure_project("demo", "Unprivileged demo project")
    demo_user = keystone.ensure_user(DEMO_USER, DEMO_PASSWORD, demo_project)
    keystone.grant(demo_project, demo_user, "member")
    keystone.grant(demo_project, demo_user, "reader")
    image_service = keystone.ensure_service("glance", "image")
    for region in regions(layout):
        keystone.ensure_region(region)
        for interface in ("public", "internal"):
            keystone.ensure_endpoint(image_service, region, interface, layout.glance_url(region))
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(wanted + "\n")


# --------------------------------------------------------------------------- client files


def clouds_yaml(layout: Layout) -> str:
    entries = [("glance-admin", ADMIN_USER, ADMIN_PASSWORD, "admin", REGION_ONE),
               ("glance-demo", DEMO_USER, DEMO_PASSWORD, "demo", REGION_ONE)]
    if region_two_enabled(layout):
        entries.append(("glance-admin-r2", ADMIN_USER, ADMIN_PASSWORD, "admin", REGION_TWO))
    lines = ["# Generated by tools/local-cloud; do not edit.", "clouds:"]
    for name, user, password, project, region in entries:
        lines += [
            f"  {name}:",
            "    auth:",
            f"      auth_url: {layout.keystone_url}",
            f"      username: {user}",
            f"      password: {password}",
            f"      project_name: {project}",
            "      user_domain_name: Default",
            "      project_domain_name: Default",
            f"    region_name: {region}",
            "    identity_api_version: 3",
            "    interface: public",
        ]
    return "\n".join(lines) + "\n"


def env_lines(layout: Layout) -> list[str]:
    values = {
        "OS_CLIENT_CONFIG_FILE": str(layout.clouds_yaml),
        "OS_CLOUD": "glance-admin",
        "GLANCE_IMAGES_WWW_DIR": str(layout.www),
        "GLANCE_IMAGES_WWW_URL": layout.www_url,
        "GLANCE_IMAGES_GLANCE_URL": layout.glance_url(REGION_ONE),
        "GLANCE_IMAGES_KEYSTONE_URL": layout.keystone_url,
    }
    if region_two_enabled(layout):
        values["GLANCE_IMAGES_REGION_TWO"] = "1"
    return [f"export {key}={value}" for key, value in values.items()]


def write_client_files(layout: Layout) -> None:
    write_if_changed(layout.clouds_yaml, clouds_yaml(layout), 0o600)
    write_if_changed(layout.env_sh, "\n".join(env_lines(layout)) + "\n")


# --------------------------------------------------------------------------- commands


def cmd_up(layout: Layout, region_two: bool) -> int:
    started = time.monotonic()
    layout.state.mkdir(parents=True, exist_ok=True)
    ensure_venv(layout)
    with file_lock(layout.state / ".lock"):
        if region_two:
            layout.region_two_flag.write_text("1\n")
        write_configs(layout, regions(layout))
        init_keystone(layout)
        base = [keystone_service(layout), www_service(layout)]
        for service in base:
            start_service(layout, service)
        wait_healthy(layout, base)
        bootstrap_identity(layout)
        glances = []
        for region in regions(layout):
            init_glance(layout, region)
            glances.append(glance_service(layout, region))
            start_service(layout, glances[-1])
        wait_healthy(layout, glances)
        write_client_files(layout)
    log(f"cloud is up ({time.monotonic() - started:.1f} s)")
    print(layout.env_sh)
    print(layout.env_sh.read_text(), end="")
    return 0


def cmd_down(layout: Layout) -> int:
    if not layout.state.exists():
        return 0
    with file_lock(layout.state / ".lock"):
        stopped = [s.name for s in reversed(all_services(layout)) if stop_service(layout, s)]
    log("stopped: " + ", ".join(stopped) if stopped else "nothing was running")
    return 0


def cmd_status(layout: Layout) -> int:
    services = all_services(layout) if layout.state.exists() else []
    started = [s for s in services if running_pid(layout, s) is not None]
    for service in services:
        pid = running_pid(layout, service)
        state = ("healthy" if is_healthy(service) else "UNHEALTHY") if pid else "not running"
        print(f"{service.name:18} {state:12} pid={pid or '-':<8} {service.health_url}")
    if not started:
        print("cloud is not running")
        return 1
    return 0 if len(started) == len(services) and all(map(is_healthy, services)) else 1


def cmd_env(layout: Layout) -> int:
    print("\n".join(env_lines(layout)))
    return 0


def cmd_reset(layout: Layout) -> int:
    cmd_down(layout)
    if not layout.state.exists():
        return 0
    with file_lock(layout.state / ".lock"):
        for child in layout.state.iterdir():
            if child == layout.venv or child.name in (".lock", layout.venv.name + ".lock"):
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    log(f"state below {layout.state} deleted (venv kept)")
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="local-cloud", description=__doc__.split("\n\n", maxsplit=1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the cloud (idempotent) and print env.sh")
    up.add_argument("--region-two", action="store_true",
                    help="also run a second Glance registered as RegionTwo")
    commands.add_parser("down", help="stop every process started by `up`")
    commands.add_parser("status", help="print the health of each service")
    commands.add_parser("env", help="print the env.sh export lines")
    commands.add_parser("reset", help="down, then delete the state (the venv is kept)")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        layout = Layout.from_env()
        if args.command == "up":
            region_two = args.region_two or os.environ.get(
                "GLANCE_IMAGES_CLOUD_REGION_TWO", "") not in ("", "0", "false", "no")
            return cmd_up(layout, region_two)
        handlers = {"down": cmd_down, "status": cmd_status, "env": cmd_env, "reset": cmd_reset}
        return handlers[args.command](layout)
    except CloudError as error:
        print(f"local-cloud: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
