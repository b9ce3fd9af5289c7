"""The real-Zou tier: Zou 1.0.97 from PyPI, in a virtualenv of its own, on this machine's Postgres.

Runs only when asked: ``-m e2e`` or ``KITSYNC_E2E=1`` (``scripts/test -m e2e tests/e2e``).

- The virtualenv is cached outside the repo (``$KITSYNC_ZOU_VENV``, default
  ``${XDG_CACHE_HOME:-~/.cache}/kitsync/zou-1.0.97-venv``) and reused when it imports; it is
  never kitsync's.
- Zou gets a database ``kitsync_e2e_zou_<hex>`` (dropped afterwards) and a private
  ``redis-server`` on a free port: Zou 1.0.97 hard-codes its Redis db indexes 0-4
  (``zou/app/config.py``), so it cannot be given one index of the shared Redis.
- kitsync's Zou plugin is installed in ``EVENT_HANDLERS_FOLDER`` and posts to a receiver port
  chosen here; each scenario serves its receiver on that port (``Zou.receiver_port``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import PG_ADMIN_DSN, own_database
from tests.e2e._bed import TIMINGS, Zou
from tests.fakes.serve import free_port
from tests.redis_server import private_redis

ZOU_VERSION = "1.0.97"
_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kitsync"
ZOU_VENV = Path(os.environ.get("KITSYNC_ZOU_VENV") or _CACHE / f"zou-{ZOU_VERSION}-venv")
ADMIN_EMAIL = "kitsync.admin@example.com"
ADMIN_PASSWORD = "e2e-admin-password"  # a throwaway Zou on loopback, dropped after the run
WEBHOOK_SECRET = "e2e-webhook-secret"

_TIER_START: list[float] = []


def _e2e_requested(config: pytest.Config) -> bool:
    return os.environ.get("KITSYNC_E2E") == "1" or "e2e" in (config.option.markexpr or "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _e2e_requested(config):
        return
    skip = pytest.mark.skip(
        reason="e2e tier (real Zou, installed on demand): run with -m e2e or KITSYNC_E2E=1"
    )
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _TIER_START:
        return
    lines = [f"e2e tier: {time.monotonic() - _TIER_START[0]:.1f}s in all"]
    lines += [f"  {name}: {seconds:.1f}s" for name, seconds in TIMINGS.items()]
    terminalreporter.write_sep("-", "e2e timings")
    for line in lines:
        terminalreporter.write_line(line)


def _run(args: list[str], env: dict[str, str], cwd: Path, what: str) -> None:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(
            f"{what} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )


def _venv_ready(venv: Path) -> bool:
    if not (venv / "bin" / "zou").exists() or not (venv / ".kitsync-complete").exists():
        return False
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import zou, gunicorn; print(zou.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.returncode == 0 and probe.stdout.strip() == ZOU_VERSION


def _install_zou(venv: Path) -> None:
    """Install Zou into ``venv`` in place (console scripts carry the venv's absolute path, so
    it cannot be built elsewhere and moved); a marker file says the install finished."""
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    base = getattr(sys, "_base_executable", sys.executable)
    env = dict(os.environ)
    _run([base, "-m", "venv", str(venv)], env, venv.parent, "creating Zou's virtualenv")
    _run(
        [str(venv / "bin" / "pip"), "install", "-q", f"zou=={ZOU_VERSION}", "gunicorn"],
        env,
        venv.parent,
        f"pip install zou=={ZOU_VERSION}",
    )
    (venv / ".kitsync-complete").write_text(ZOU_VERSION)


@pytest.fixture(scope="session")
def zou_venv() -> Path:
    _TIER_START.append(time.monotonic())
    started = time.monotonic()
    if _venv_ready(ZOU_VENV):
        TIMINGS[f"zou {ZOU_VERSION} venv (cached, {ZOU_VENV})"] = time.monotonic() - started
    else:
        _install_zou(ZOU_VENV)
        TIMINGS[f"zou {ZOU_VERSION} install (first run, {ZOU_VENV})"] = time.monotonic() - started
    return ZOU_VENV


def _stop(process: subprocess.Popen[bytes], seconds: float = 15) -> None:
    """Stop a process started in its own session: its whole group, TERM then KILL."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@pytest.fixture(scope="session")
def zou_redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A private redis-server for Zou, on a free loopback port, without persistence."""
    with private_redis(tmp_path_factory.mktemp("zou-redis")) as server:
        yield server.port


def _wait_port(port: int, seconds: float, what: str, log: Path) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not listen on {port}:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)


@pytest.fixture(scope="session")
def zou_database() -> Iterator[str]:
    """Name of a fresh Postgres database for Zou (dropped afterwards)."""
    with own_database("kitsync_e2e_zou_") as name:
        yield name


@pytest.fixture(scope="session")
def zou(
    zou_venv: Path,
    zou_database: str,
    zou_redis_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Zou]:
    """A running Zou API (gunicorn) with kitsync's plugin installed; stopped afterwards."""
    started = time.monotonic()
    home = tmp_path_factory.mktemp("zou")
    handlers = home / "handlers"
    _run(
        [sys.executable, "-m", "kitsync.zou_plugin", "install", str(handlers)],
        dict(os.environ),
        home,
        "installing kitsync's Zou plugin",
    )
    pg = urlsplit(PG_ADMIN_DSN)
    receiver_port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KITSU_", "AYON_", "KITSYNC_", "VIRTUAL_ENV", "PYTHON"))
    } | {
        "DB_HOST": pg.hostname or "127.0.0.1",
        "DB_PORT": str(pg.port or 5432),
        "DB_USERNAME": pg.username or "postgres",
        "DB_PASSWORD": pg.password or "",
        "DB_DATABASE": zou_database,
        "KV_HOST": "127.0.0.1",
        "KV_PORT": str(zou_redis_port),
        "SECRET_KEY": secrets.token_hex(32),
        "PREVIEW_FOLDER": str(home / "previews"),
        "TMP_DIR": str(home / "tmp"),
        "EVENT_HANDLERS_FOLDER": str(handlers),
        # No DNS here: Zou's e-mail deliverability check would refuse every person.
        "MAIL_CHECK_DELIVERABILITY": "false",
        "MAIL_ENABLED": "false",
        "ENABLE_JOB_QUEUE": "false",
        "KITSYNC_RECEIVER_URL": f"http://127.0.0.1:{receiver_port}",
        "KITSYNC_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "KITSYNC_PLUGIN_TIMEOUT": "2",
    }
    zou_cli = str(zou_venv / "bin" / "zou")
    _run([zou_cli, "init-db"], env, home, "zou init-db")
    _run([zou_cli, "init-data"], env, home, "zou init-data")
    _run(
        [zou_cli, "create-admin", ADMIN_EMAIL, "--password", ADMIN_PASSWORD],
        env,
        home,
        "zou create-admin",
    )
    port = free_port()
    log = home / "gunicorn.log"
    process = subprocess.Popen(
        [
            str(zou_venv / "bin" / "gunicorn"),
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            "--timeout",
            "120",
            # gunicorn 26's control socket defaults to ~/.gunicorn: keep it in this run's folder.
            "--control-socket",
            str(home / "gunicorn.ctl"),
            "zou.app:app",
        ],
        env=env,
        cwd=home,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Zou(
        f"http://127.0.0.1:{port}", ADMIN_EMAIL, ADMIN_PASSWORD, receiver_port, WEBHOOK_SECRET, log
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn (Zou) exited {process.returncode}:\n{server.log_tail()}")
            try:
                if httpx.get(f"{server.url}/", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"Zou did not answer on {server.url}/:\n{server.log_tail()}")
            time.sleep(0.2)
        TIMINGS["zou init-db + init-data + create-admin + gunicorn start"] = (
            time.monotonic() - started
        )
        yield server
    finally:
        _stop(process)
