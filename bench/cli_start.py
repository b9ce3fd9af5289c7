"""How long ``kitsync`` commands take to start, as whole processes, against a bare ``python``.

Each command runs ``--runs`` times as ``python -m kitsync ...`` (interleaved with the bare
interpreter, so the machine's load weighs on both alike); the table shows the median wall time,
the median CPU time of the child, and the wall time as a multiple of ``python -c pass``. With
``--before DIR`` (another kitsync source tree, e.g. ``git archive <commit> kitsync | tar -x -C
DIR``) the same commands also run from that tree, interleaved, and the table adds before/after.

``check`` and ``status`` run with every service pointed at a closed port on loopback: they load
the settings, import what they need and fail at once on the first connection, so the time is the
command's start, not a network's. They run in an empty folder (no ``.env``) with no kitsync
variables from the caller's environment.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
COMMANDS = (("--version",), ("--help",), ("check",), ("status",))
BARE = "python -c pass"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(source: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("KITSU_", "AYON_", "KITSYNC_", "PYTHON"))
    }
    closed = f"127.0.0.1:{_closed_port()}"
    env.update(
        PYTHONPATH=str(source),
        KITSU_URL=f"http://{closed}/api",
        KITSU_BOT_TOKEN="bench-token",
        AYON_URL=f"http://{closed}",
        AYON_API_KEY="bench-api-key",
        AYON_DB_DSN=f"postgresql://kitsync@{closed}/ayon",
        KITSYNC_REDIS_URL=f"redis://{closed}/0",
    )
    return env


def _timed(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """One run's (wall, CPU) seconds; CPU is the child's user + system time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def measure(trees: dict[str, Path], runs: int) -> dict[str, dict[str, dict[str, float]]]:
    """tree -> command -> median wall and CPU seconds (the bare interpreter under BARE)."""
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="kitsync-bench-") as cwd:
        envs = {name: _environment(source) for name, source in trees.items()}
        for _ in range(runs):
            for name, env in envs.items():
                samples.setdefault((name, BARE), []).append(
                    _timed([sys.executable, "-c", "pass"], env, cwd)
                )
                for command in COMMANDS:
                    argv = [sys.executable, "-m", "kitsync", *command]
                    samples.setdefault((name, " ".join(command)), []).append(_timed(argv, env, cwd))
    result: dict[str, dict[str, dict[str, float]]] = {}
    for (name, command), times in samples.items():
        result.setdefault(name, {})[command] = {
            "wall_s": statistics.median(wall for wall, _ in times),
            "cpu_s": statistics.median(cpu for _, cpu in times),
        }
    return result


def show(result: dict[str, dict[str, dict[str, float]]]) -> None:
    after, before = result["after"], result.get("before")
    head = f"{'command':<16} {'wall ms':>8} {'CPU ms':>7} {'x python':>9}"
    if before:
        head += f" {'before ms':>10} {'CPU ms':>7} {'x python':>9} {'before/after':>13}"
    print(head)
    for command, times in after.items():
        line = (
            f"{command:<16} {times['wall_s'] * 1000:>8.0f} {times['cpu_s'] * 1000:>7.0f} "
            f"{times['wall_s'] / after[BARE]['wall_s']:>9.1f}"
        )
        if before:
            then = before[command]
            line += (
                f" {then['wall_s'] * 1000:>10.0f} {then['cpu_s'] * 1000:>7.0f}"
                f" {then['wall_s'] / before[BARE]['wall_s']:>9.1f}"
                f" {then['wall_s'] / times['wall_s']:>13.2f}"
            )
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (median)")
    parser.add_argument("--before", type=Path, help="another kitsync source tree to compare")
    parser.add_argument("--output", default=str(RESULTS / "cli_start.json"))
    args = parser.parse_args()
    trees = {"after": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    result = measure(trees, args.runs)
    show(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
