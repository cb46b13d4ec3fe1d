"""Soak: N clients for M minutes against ``remem serve`` on loopback, mixing add, search, list.

    python bench/soak.py --clients 8 --minutes 10

``remem serve`` runs in a subprocess over a new SQLite file (or ``--db``, e.g. a PostgreSQL
URL), API-key auth on. Each client is a thread with its own ``remem.Client`` (keep-alive,
the default retries) and a user of its own, looping until the deadline: it picks an add
(30%), a search (50%) or a list page (20%). Loops are bounded: each client keeps at most
``--window`` memories and forgets its oldest past that, so the store, the server's search
index and its memory stay the same size however long the run; a growing RSS is then a
leak, not data. Adds are sentences from a fixed set of templates with a counter, searches
ask about them, lists read the newest page.

Reported: requests/s (overall and per operation), p50/p95/p99 latency per operation,
errors by kind, and the server's RSS when ready, after the warm-up (``--warmup-s``) and at
the end, with samples every ``--sample-s`` seconds. Markdown on stdout, JSON in
bench/results/soak.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import machine
import numpy as np

from remem import Client, RememError
from remem.service.keys import KeyStore
from remem.testing.served import served

ROOT = Path(__file__).resolve().parent
MIX = (("add", 0.3), ("search", 0.5), ("list", 0.2))
SUBJECTS = ("my sister", "the dentist", "our landlord", "a colleague", "the cat", "my bank")
EVENTS = ("moved to Lisbon", "called about the invoice", "adopted a puppy", "started yoga",
          "booked a flight to Oslo", "asked for the report")  # fmt: skip
QUESTIONS = ("who moved?", "what about the invoice?", "any pets?", "travel plans",
             "what did my sister do?", "anything about the bank?")  # fmt: skip


def cpu_s(pid: int) -> float:
    """CPU seconds (user and system) process ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


@dataclass
class Tally:
    """What every client saw, under one lock."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op, _ in MIX})
    forgets: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def took(self, op: str, seconds: float) -> None:
        with self.lock:
            (self.forgets if op == "forget" else self.latencies[op]).append(seconds)

    def failed(self, op: str, exc: Exception) -> None:
        with self.lock:
            self.errors[f"{op}: {type(exc).__name__}: {str(exc)[:120]}"] += 1


def client_loop(url: str, token: str, n: int, deadline: float, window: int, tally: Tally) -> None:
    rng = random.Random(n)
    user, kept, count = f"soak-{n}", deque[str](), 0
    ops, weights = zip(*MIX, strict=True)
    with Client(url, api_key=token) as client:
        while time.monotonic() < deadline:
            op = rng.choices(ops, weights)[0]
            began = time.perf_counter()
            try:
                if op == "add":
                    count += 1
                    text = f"{rng.choice(SUBJECTS)} {rng.choice(EVENTS)} (note {count})"
                    kept.append(client.add(text, user_id=user).memories[0].id)
                elif op == "search":
                    client.search(rng.choice(QUESTIONS), user_id=user, limit=5)
                else:
                    client.list(user_id=user, limit=20)
            except RememError as exc:
                tally.failed(op, exc)
                continue
            tally.took(op, time.perf_counter() - began)
            while len(kept) > window:
                began = time.perf_counter()
                try:
                    client.forget(kept.popleft(), user_id=user)
                except RememError as exc:
                    tally.failed("forget", exc)
                    continue
                tally.took("forget", time.perf_counter() - began)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ms = np.asarray(values) * 1000
    return {
        "n": len(values),
        **{f"p{q}": round(float(np.percentile(ms, q)), 2) for q in (50, 95, 99)},
    }


def soak(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="remem-soak-"))
    db = args.db or str(workdir / "soak.db")
    keys = KeyStore(db)
    token = keys.create("soak", "bench/soak.py")[1]
    keys.close()
    tally = Tally()
    samples: list[tuple[float, float]] = []
    with served(db) as server:
        ready_rss = rss_mib(server.pid)
        began = time.monotonic()
        deadline = began + args.minutes * 60
        threads = [
            threading.Thread(
                target=client_loop,
                args=(server.url, token, n, deadline, args.window, tally),
                daemon=True,
            )
            for n in range(args.clients)
        ]
        server_cpu = cpu_s(server.pid)
        with machine.Contention() as window:
            for thread in threads:
                thread.start()
            while any(t.is_alive() for t in threads):
                time.sleep(min(args.sample_s, max(0.1, deadline - time.monotonic())))
                samples.append((round(time.monotonic() - began, 1), rss_mib(server.pid)))
            for thread in threads:
                thread.join()
            server_cpu = cpu_s(server.pid) - server_cpu
        end_rss = rss_mib(server.pid)
    warm = [rss for at, rss in samples if at >= args.warmup_s] or [end_rss]
    done = sum(len(v) for v in tally.latencies.values()) + len(tally.forgets)
    return {
        "command": " ".join(["python", "bench/soak.py", *sys.argv[1:]]),
        "clients": args.clients,
        "minutes": args.minutes,
        "window": args.window,
        "backend": "postgres" if db.startswith("postgres") else "sqlite",
        "requests": done,
        "requests_per_s": round(done / window.wall, 1),
        "per_op": {
            op: {**percentiles(v), "per_s": round(len(v) / window.wall, 1)}
            for op, v in (*tally.latencies.items(), ("forget", tally.forgets))
        },
        "errors": sum(tally.errors.values()),
        "error_kinds": dict(tally.errors),
        "rss_mib": {
            "ready": ready_rss,
            "after_warmup": warm[0],
            "end": end_rss,
            "min_after_warmup": min(warm),
            "max_after_warmup": max(warm),
        },
        "rss_samples": samples,
        "machine": machine.describe(),
        "cpu_s": {"server": round(server_cpu, 1), "clients": round(window.own, 1)},
        # Machine.Contention counts the server as foreign: take it out.
        "others_cpu_share": round(
            max(0.0, window.busy - window.own - server_cpu) / (window.wall * (os.cpu_count() or 1)),
            3,
        ),
        "loadavg_1m": os.getloadavg()[0],
    }


def markdown(result: dict[str, Any]) -> str:
    rss = result["rss_mib"]
    lines = [
        f"{result['clients']} clients, {result['minutes']} min, {result['backend']}: "
        f"{result['requests']} requests, {result['requests_per_s']} req/s, "
        f"{result['errors']} errors",
        "",
        "| op | requests | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for op, s in result["per_op"].items():
        if s["n"]:
            lines.append(
                f"| {op} | {s['n']} | {s['per_s']} | {s['p50']} | {s['p95']} | {s['p99']} |"
            )
    lines += [
        "",
        f"server RSS (MiB): ready {rss['ready']}, after warm-up {rss['after_warmup']}, "
        f"end {rss['end']} (after warm-up: min {rss['min_after_warmup']}, "
        f"max {rss['max_after_warmup']})",
        f"CPU s: server {result['cpu_s']['server']}, clients {result['cpu_s']['clients']}; "
        f"other processes' share of the cores: {result['others_cpu_share']:.0%} "
        f"(load average {result['loadavg_1m']:.1f})",
    ]
    for kind, n in result["error_kinds"].items():
        lines.append(f"- {n} x {kind}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--window", type=int, default=200, help="memories kept per client")
    parser.add_argument("--db", help="a SQLite path or PostgreSQL URL (default: a new file)")
    parser.add_argument("--warmup-s", type=float, default=60.0)
    parser.add_argument("--sample-s", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "soak.json")
    args = parser.parse_args()
    result = soak(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(markdown(result))


if __name__ == "__main__":
    main()
