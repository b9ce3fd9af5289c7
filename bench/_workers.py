"""Real ``kitsync worker`` processes for the benchmarks: start them, read their CPU time and
peak memory from ``/proc``, stop them (their whole process group, also on errors and Ctrl-C),
and remove the benchmark's Redis keys.

Each worker is started in a session of its own (``start_new_session``), so its process group id
is its pid and holds the Celery main process and its prefork children.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import _common  # noqa: F401 - puts the repository root on sys.path
import redis

from tests.proc import children_of, group_cpu_seconds

REDIS_URL = "redis://127.0.0.1:6379/12"  # the tests use db 13
WEBHOOK_SECRET = "bench-webhook-secret"
# Process groups started and not yet stopped: killed at exit whatever happened.
_LIVE: set[int] = set()


def bench_prefix() -> str:
    """A Redis key prefix of this run's own (``kitsync_bench_<hex>:``)."""
    return f"kitsync_bench_{uuid.uuid4().hex[:12]}:"


def delete_redis_keys(url: str, prefix: str) -> int:
    """Delete every key under ``prefix`` (and nothing else); how many there were."""
    if not prefix.startswith("kitsync_bench_"):
        raise ValueError(f"refusing to delete keys under {prefix!r}")
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
        return len(keys)
    finally:
        client.close()


# ------------------------------------------------------------------------------- processes


@dataclass
class Workers:
    processes: list[subprocess.Popen[bytes]]
    logs: list[Path]

    @property
    def pgids(self) -> set[int]:
        return {process.pid for process in self.processes}

    def cpu_seconds(self) -> float:
        return group_cpu_seconds(self.pgids)

    def check_alive(self) -> None:
        for process, log in zip(self.processes, self.logs, strict=True):
            if process.poll() is not None:
                raise RuntimeError(f"worker {process.pid} exited:\n{tail(log)}")

    def tails(self) -> str:
        return "\n".join(f"--- {log.name}\n{tail(log)}" for log in self.logs)


def tail(log: Path, size: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def _stop(processes: list[subprocess.Popen[bytes]], grace: float = 20.0) -> None:
    """SIGTERM every group (Celery's warm shutdown), then SIGKILL what is left."""
    for process in processes:
        _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        with suppress(subprocess.TimeoutExpired):
            process.wait(max(0.1, deadline - time.monotonic()))
        # The main process gone, its prefork children may linger: the group goes.
        _signal_group(process.pid, signal.SIGKILL)
        _LIVE.discard(process.pid)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def exit_on_sigterm() -> None:
    """SIGTERM ends the benchmark as Ctrl-C does: cleanups run, workers are stopped."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


@atexit.register
def _kill_leftovers() -> None:
    for pgid in list(_LIVE):
        _signal_group(pgid, signal.SIGKILL)
    _LIVE.clear()


@contextmanager
def running_workers(
    count: int,
    concurrency: int,
    env: Mapping[str, str],
    logs: Path,
    *,
    metrics_port: int | None = None,
    queues: str | None = None,
    ready_timeout: float = 90.0,
) -> Iterator[Workers]:
    """``count`` processes of ``kitsync worker -c <concurrency>``, ready to take tasks.

    The first one serves ``metrics_port``; all of them write their metrics into the same
    ``PROMETHEUS_MULTIPROC_DIR`` (under ``logs``), so that port shows their sum. They run in
    ``logs`` (no stray ``.env`` is read) and log there.
    """
    env = dict(env)
    if metrics_port is not None:
        shared = logs / "metrics"
        shared.mkdir(parents=True, exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(shared)
    processes: list[subprocess.Popen[bytes]] = []
    paths: list[Path] = []
    try:
        for index in range(count):
            path = logs / f"worker-{index}.log"
            command = [sys.executable, "-m", "kitsync", "worker", "-c", str(concurrency)]
            if metrics_port is not None and index == 0:
                command += ["--metrics-port", str(metrics_port)]
            if queues is not None:
                command += ["-Q", queues]
            process = _start(command, env, logs, path)
            processes.append(process)
            paths.append(path)
        workers = Workers(processes, paths)
        _wait_ready(workers, concurrency, ready_timeout)
        yield workers
    finally:
        _stop(processes)


@contextmanager
def running_process(
    command: list[str], env: Mapping[str, str], cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """One process (``kitsync run``, say) in a session of its own, logging to ``log``; its
    whole group is stopped on exit."""
    process = _start(command, env, cwd, log)
    try:
        yield process
    finally:
        _stop([process])


def _start(
    command: list[str], env: Mapping[str, str], cwd: Path, log: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _LIVE.add(process.pid)
    return process


def _wait_ready(workers: Workers, concurrency: int, timeout: float) -> None:
    """Until every worker logged Celery's ``ready.`` and has its prefork children."""
    deadline = time.monotonic() + timeout
    while True:
        workers.check_alive()
        ready = all(
            " ready." in tail(log, 100_000) and len(children_of(process.pid)) >= concurrency
            for process, log in zip(workers.processes, workers.logs, strict=True)
        )
        if ready:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers not ready after {timeout:.0f} s\n{workers.tails()}")
        time.sleep(0.2)
