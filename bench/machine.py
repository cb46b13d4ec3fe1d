"""What the benchmark ran on, how much memory it holds, and whether other processes competed for CPU."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _first(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def describe() -> dict[str, object]:
    mem_kib = _first("/proc/meminfo", "MemTotal")
    return {
        "cpu": _first("/proc/cpuinfo", "model name"),
        "cores": os.cpu_count(),
        "memory_gib": round(int(mem_kib.split()[0]) / 2**20, 1) if mem_kib else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": {p: _version(p) for p in ("numpy", "onnxruntime", "tokenizers", "pydantic")},
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def rss_mib() -> dict[str, float]:
    """Resident memory now and at its peak, in MiB."""
    out = {}
    for key, field in (("rss", "VmRSS"), ("peak", "VmHWM")):
        value = _first("/proc/self/status", field)
        out[key] = round(int(value.split()[0]) / 1024, 1) if value else float("nan")
    return out


def _cpu_busy_seconds() -> float:
    """CPU time every process on the machine has used since boot (idle and iowait excluded)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / _TICK


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system


@dataclass
class Contention:
    """Measures how much CPU other processes used during a window, as a share of all cores."""

    wall: float = 0.0
    busy: float = 0.0
    own: float = 0.0

    def __enter__(self) -> Contention:
        self.wall, self.busy, self.own = time.perf_counter(), _cpu_busy_seconds(), _own_seconds()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.busy = _cpu_busy_seconds() - self.busy
        self.own = _own_seconds() - self.own

    @property
    def foreign_share(self) -> float:
        """0 = nothing else ran; 0.5 = other processes kept one of two cores busy."""
        capacity = self.wall * (os.cpu_count() or 1)
        return max(0.0, self.busy - self.own) / capacity if capacity else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "wall_s": round(self.wall, 2),
            "own_cpu_s": round(self.own, 2),
            "foreign_cpu_share": round(self.foreign_share, 3),
            "loadavg_1m": os.getloadavg()[0],
        }
