"""What ``/proc`` says of processes: CPU time of process groups, threads and the machine, and
memory. For the fault tier's and the benchmarks' measurements of real worker processes."""

from __future__ import annotations

import os
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    pgrp: int
    cpu_seconds: float  # utime + stime
    children_cpu_seconds: float  # cutime + cstime: children that ended and were waited for


def proc_stat(path: str) -> ProcStat | None:
    """``/proc/<pid>/stat`` (or a thread's ``/proc/self/task/<tid>/stat``); None if gone."""
    try:
        with open(path) as stat:
            text = stat.read()
    except OSError:
        return None
    pid = int(text.split(" ", 1)[0])
    fields = text.rsplit(")", 1)[1].split()  # the command name may hold spaces and ')'
    # fields[0] is field 3 (state) of proc(5): ppid 4, pgrp 5, utime 14 ... cstime 17.
    return ProcStat(
        pid=pid,
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        cpu_seconds=(int(fields[11]) + int(fields[12])) / _TICK,
        children_cpu_seconds=(int(fields[13]) + int(fields[14])) / _TICK,
    )


def all_processes() -> list[ProcStat]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = proc_stat(f"/proc/{name}/stat")
            if stat is not None:
                found.append(stat)
    return found


def group_cpu_seconds(pgids: set[int]) -> float:
    """CPU time (user + system) of every process in the groups, and of their ended children."""
    return sum(
        stat.cpu_seconds + stat.children_cpu_seconds
        for stat in all_processes()
        if stat.pgrp in pgids
    )


def thread_cpu_seconds(native_id: int) -> float:
    """CPU time of one thread of this process (e.g. the receiver's server thread)."""
    stat = proc_stat(f"/proc/self/task/{native_id}/stat")
    return stat.cpu_seconds if stat else 0.0


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores, every process: ``/proc/stat``)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICK  # user .. steal; guest is inside user


def children_of(pid: int) -> list[int]:
    return sorted(stat.pid for stat in all_processes() if stat.ppid == pid)


def status_mib(pid: int, field: str) -> float:
    """A memory line of ``/proc/<pid>/status`` (``VmHWM``: peak RSS, ``VmRSS``) in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024  # kB
    raise KeyError(field)
