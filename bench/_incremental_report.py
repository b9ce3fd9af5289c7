"""The incremental benchmark's tables, printed from its JSON result."""

from __future__ import annotations

from typing import Any

STEADY_HEAD = (
    "workers",
    "changes",
    "events",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "bare ms",
    "p50/bare",
    "CPU ms/ev",
    "events/s",
    "busy cores",
)

BACKLOG_HEAD = (
    "workers",
    "changes",
    "events",
    "s to 50%",
    "s to 90%",
    "seconds",
    "events/s",
    "changes/s",
    "CPU ms/ev",
    "busy cores",
)


def _table(head: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    print("".join(f"{name:>11}" for name in head))
    for row in rows:
        cells = [f"{v:11.1f}" if isinstance(v, float) else f"{v!s:>11}" for v in row]
        print("".join(cells))


def print_report(result: dict[str, Any]) -> None:
    print(f"\n{result['production']}; {result['settings']}")
    print("steady stream (latency: Kitsu change to AYON commit, per change):")
    print("load average (1 min) of the machine at each count's start and end:")
    print(
        "".join(
            f"  {r['workers']}: {r['load_average']['start']:.1f}-{r['load_average']['end']:.1f}"
            for r in result["runs"]
        )
    )
    _table(
        STEADY_HEAD,
        [
            (
                run["workers"],
                run["steady"]["changes"],
                run["steady"]["events"],
                run["steady"]["p50_ms"],
                run["steady"]["p95_ms"],
                run["steady"]["p99_ms"],
                run["bare_write"]["p50_ms"],
                run["p50_over_bare_write"],
                run["steady"]["worker_cpu_ms_per_event"],
                run["steady"]["events_per_second"],
                run["steady"]["counters"]["machine_busy_cores"],
            )
            for run in result["runs"]
        ],
    )
    print("p50 of each stage (ms):")
    stages = list(result["runs"][0]["steady"]["p50_ms_by_stage"])
    print("".join(f"  {i + 1}: {name}" for i, name in enumerate(stages)))
    _table(
        ("workers", *(f"stage {i + 1}" for i in range(len(stages)))),
        [(run["workers"], *run["steady"]["p50_ms_by_stage"].values()) for run in result["runs"]],
    )
    print("backlog (changes on distinct shots, posted at once):")
    _table(
        BACKLOG_HEAD,
        [
            (
                run["workers"],
                run["backlog"]["changes"],
                run["backlog"]["events"],
                run["backlog"]["seconds_to_half"],
                run["backlog"]["seconds_to_90_percent"],
                run["backlog"]["seconds"],
                run["backlog"]["events_per_second"],
                run["backlog"]["changes_per_second"],
                run["backlog"]["worker_cpu_ms_per_event"],
                run["backlog"]["counters"]["machine_busy_cores"],
            )
            for run in result["runs"]
        ],
    )
    print("steady stream, committed within (s): the bench's changes | kitsync's histogram")
    for run in result["runs"]:
        s = run["steady"]
        mine = " ".join(f"<={b}:{s['buckets'][b]}" for b in s["buckets"])
        h = s["kitsync_histogram"]
        theirs = " ".join(f"<={b}:{h[b]:.0f}" for b in s["buckets"])
        print(f"  {run['workers']} workers: {mine} | {theirs} (of {h['count']:.0f} reconciles)")
