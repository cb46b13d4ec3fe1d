"""The first search of a fresh process on a large store: with the saved index, and without.

    python bench/ingest_search.py --sizes 100000 --keep-db --db-dir /tmp/cold
    python bench/cold_start.py --db /tmp/cold/remem-bench-*/bench.db --rounds 5

or, for a store only (no ingest or search figures): ``--build N`` first adds the corpus's
first N turns to ``--db`` in 50-turn sessions with cached vectors, searches once and
closes it (which saves the index beside it).

A store of a million turns through ``Memory.add`` takes hours here, so ``--replicate SEED
--copies C`` makes one from a store ``Memory.add`` built (e.g. ingest_search's 100k
``--keep-db`` store): every turn of SEED, C times, written by ``Store.load`` (the path of
``remem import``) with fresh ids and session ids, as one user's C repeated histories. Copy
0 keeps the real vectors; copies past it get mixtures of two or three real ones
(``ann.mixtures``: distinct rows between real sentences). The entities stay one set and
every copy links its turns to them, as ``Memory.add`` links a name seen again. Then one
search builds the index and ``close`` saves it beside the file.

Each round starts two fresh processes on the same store, one after the other: one finds
the index saved beside the file (``<db>.index``, ``stores/index_file.py``) and loads it;
the other finds none and builds the index from SQL as remem did before the file existed
(every vector read, every text tokenized on the first text query), with the ANN
threshold above the store's size so it builds no graph either (the old code had none)
and without saving on exit. Each process then runs warm searches; the first search is
reported next to them and next to the other process's, so the ratios hold on a busy
machine. Model loading is timed apart (it is the same in both). ``--baseline-src DIR``
adds a third process per round that loads the saved index with remem imported from DIR
(another commit's ``src/``), for before/after in one run, and ``--baseline-db`` gives it
its own copy of the store (a baseline from before a migration of this src refuses a file
this src opened); ``--evict`` drops the store's files from the page cache before every
process (``posix_fadvise(DONTNEED)``: the store's files only), so each first search reads
the disk as after a reboot.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ann
import corpus
import embed_cache
import machine
import numpy as np

from remem import Memory
from remem._ids import new_id
from remem.providers.local_embedder import LocalEmbedder
from remem.stores import index_file
from remem.stores.sqlite import SQLiteStore

USER = "bench-user"


def probe(db: str, queries: list[str], save: bool) -> dict[str, Any]:
    """In this fresh process: open, load the model, time the first search, then warm ones."""
    began = time.perf_counter()
    embedder = LocalEmbedder.shared()
    memory = Memory(db, embedder=embedder)
    embedder.embed(["load the model"])
    ready = time.perf_counter()
    memory.search(queries[0], user_id=USER, limit=10)
    first = time.perf_counter()
    warm = []
    for query in queries[1:]:
        start = time.perf_counter()
        memory.search(query, user_id=USER, limit=10)
        warm.append((time.perf_counter() - start) * 1000)
    out = {
        "open_and_model_s": round(ready - began, 3),
        "first_search_ms": round((first - ready) * 1000, 1),
        "warm_search_p50_ms": round(float(np.percentile(warm, 50)), 1),
        "rss_mib": machine.rss_mib()["rss"],
    }
    if save:
        memory.close()
    print(json.dumps(out), flush=True)
    if not save:
        os._exit(0)  # no close: the index built from SQL must not replace the saved one
    return out


def fresh(db: Path, queries: list[str], saved: bool, src: Path | None = None) -> dict[str, Any]:
    """One probe in a new process; ``src``: import remem from that tree instead."""
    env = dict(os.environ)
    if not saved:
        env["REMEM_ANN_THRESHOLD"] = str(10**12)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), str(Path(__file__).parent)])
    done = subprocess.run(
        [sys.executable, __file__, "--probe", str(db), "--saved", str(int(saved))],
        input=json.dumps(queries),
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def evict(db: Path) -> int:
    """Drop the store's files from the page cache (theirs only: others' runs keep theirs).

    ``posix_fadvise(DONTNEED)`` frees a file's clean cached pages that no process maps;
    between two probes none does. Returns the bytes advised.
    """
    files = [db, db.with_name(db.name + "-wal"), *index_file.path_for(db).iterdir()]
    advised = 0
    for path in files:
        if not path.is_file():
            continue
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)  # dirty pages stay cached: write them first
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)
        advised += path.stat().st_size
    return advised


def run(
    db: Path,
    rounds: int,
    warm: int,
    baseline: Path | None = None,
    cold: bool = False,
    baseline_db: Path | None = None,
) -> dict[str, Any]:
    folder = index_file.path_for(db)
    if not folder.is_dir():
        raise SystemExit(f"{folder} is missing: search the store once in a process that closes it")
    aside = folder.with_name(folder.name + ".aside")
    # (name, loads the saved index, remem from, store) per probe of a round, in this order
    probes: list[tuple[str, bool, Path | None, Path]] = [("saved index", True, None, db)]
    if baseline is not None:
        probes.append(("saved index, baseline src", True, baseline, baseline_db or db))
    probes.append(("built from SQL", False, None, db))
    pool = corpus.queries(rounds * len(probes) * (warm + 1), 11, exclude=set())
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _, _ in probes}
    with machine.Contention() as contention:
        for r in range(rounds):
            # the two saved-index probes swap places every round: neither always goes first
            order = (
                probes if r % 2 == 0 or baseline is None else [probes[1], probes[0], *probes[2:]]
            )
            for key, saved, src, store in order:
                chunk = pool[: warm + 1]
                pool = pool[warm + 1 :]
                if cold:
                    evict(store)
                if not saved:
                    folder.rename(aside)
                try:
                    found = fresh(store, chunk, saved, src)
                finally:
                    if not saved:
                        shutil.rmtree(folder, ignore_errors=True)
                        aside.rename(folder)
                results[key].append(found)
                print(f"  round {r} {key}: {found}", file=sys.stderr)
    summary = {}
    for key, runs in results.items():
        summary[key] = {
            "first_search_ms_median": float(np.median([x["first_search_ms"] for x in runs])),
            "warm_search_p50_ms_median": float(np.median([x["warm_search_p50_ms"] for x in runs])),
            "first_to_warm": round(
                float(np.median([x["first_search_ms"] / x["warm_search_p50_ms"] for x in runs])), 2
            ),
            "open_and_model_s_median": float(np.median([x["open_and_model_s"] for x in runs])),
            "rss_mib_median": float(np.median([x["rss_mib"] for x in runs])),
        }
    saved, built = results["saved index"], results["built from SQL"]
    ratios = [
        s["first_search_ms"] / b["first_search_ms"] for s, b in zip(saved, built, strict=True)
    ]
    summary["saved_to_built_first_search"] = round(float(np.median(ratios)), 3)
    if baseline is not None:
        before = results["saved index, baseline src"]
        ratios = [
            s["first_search_ms"] / b["first_search_ms"] for s, b in zip(saved, before, strict=True)
        ]
        summary["saved_to_baseline_first_search"] = round(float(np.median(ratios)), 3)
    return {
        "command": "python bench/cold_start.py " + " ".join(sys.argv[1:]),
        "machine": machine.describe(),
        "index_folder_mib": round(sum(f.stat().st_size for f in folder.iterdir()) / 2**20),
        "summary": summary,
        "runs": results,
        "contention": contention.summary(),
    }


def build(db: Path, turns: int) -> None:
    """A store of the corpus's first ``turns`` turns in one user, its index saved beside it."""
    sessions = list(corpus.sessions(turns, 50, 7))
    texts = [t for s in sessions for t in s.texts][:turns]
    real = LocalEmbedder.shared()
    vectors, _ = embed_cache.corpus_vectors(texts, real, Path("/tmp/remem-bench-cache"))
    memory = Memory(str(db), embedder=embed_cache.CachedEmbedder(real, texts, vectors))
    added = 0
    for session in sessions:
        if added >= turns:
            break
        memory.add(list(session.messages), user_id=USER, session_id=session.session_id)
        added += len(session.messages)
    memory.search("what did I say about my allergy", user_id=USER, limit=10)
    memory.close()


def replicate(seed: Path, db: Path, copies: int) -> None:
    """``db``: every record of ``seed``, ``copies`` times over (see the module docstring)."""
    source = SQLiteStore(seed)
    records = list(source.dump())
    source.close()
    real = np.stack([item[1] for kind, item in records if kind == "memory"])
    rng = np.random.default_rng(7)
    target = SQLiteStore(db)
    for k in range(copies):
        began = time.perf_counter()
        mixed = ann.mixtures(real, len(real), rng) if k else real
        mixed = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
        items, links = copy_records(records, k, mixed)
        target.load(items)
        if links:
            with target.transaction():
                for tenant, pairs in links.items():
                    target.link_entities(tenant, pairs)
        print(f"  copy {k}: {len(items):,} records in {time.perf_counter() - began:.0f} s",
              file=sys.stderr)  # fmt: skip
    target.close()
    memory = Memory(str(db), embedder=LocalEmbedder.shared())
    began = time.perf_counter()
    memory.search("what did I say about my allergy", user_id=USER, limit=10)
    print(f"  index built in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    memory.close()


def copy_records(
    records: list[tuple[str, Any]], k: int, vectors: np.ndarray
) -> tuple[list[tuple[str, Any]], dict[str, list[tuple[str, str]]]]:
    """Copy ``k`` of the seed's records: new ids and sessions; copy 0 is the seed itself."""
    if k == 0:
        return records, {}
    ids: dict[str, str] = {}

    def fresh(old: str) -> str:
        return ids.setdefault(old, new_id(old.split("_", 1)[0]))

    def scope(s: Any) -> Any:
        return s.model_copy(update={"session_id": f"{s.session_id}.{k}"}) if s.session_id else s

    items: list[tuple[str, Any]] = []
    links: dict[str, list[tuple[str, str]]] = {}
    row = 0
    for kind, item in records:
        if kind == "episode":
            items.append(
                (kind, item.model_copy(update={"id": fresh(item.id), "scope": scope(item.scope)}))
            )
        elif kind == "memory":
            m, _ = item
            update = {
                "id": fresh(m.id),
                "scope": scope(m.scope),
                "provenance": tuple(fresh(p) for p in m.provenance),
            }
            items.append((kind, (m.model_copy(update=update), vectors[row])))
            row += 1
        elif kind == "event":
            payload = dict(item.payload)
            payload.update(
                id=fresh(item.memory_id),
                scope=scope(item.scope).model_dump(),
                provenance=[fresh(p) for p in payload.get("provenance", [])],
            )
            update = {
                "id": fresh(item.id),
                "memory_id": fresh(item.memory_id),
                "scope": scope(item.scope),
                "payload": payload,
            }
            items.append((kind, item.model_copy(update=update)))
        elif kind == "entity_link":
            links.setdefault(item.scope.tenant, []).append((fresh(item.memory_id), item.entity_id))
    return items, links  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path)
    parser.add_argument("--rounds", type=int, default=5, help="0: build the store only")
    parser.add_argument("--warm", type=int, default=20, help="warm searches per process")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "cold.json")
    parser.add_argument("--build", type=int, help="first build a store of this many turns")
    parser.add_argument("--replicate", type=Path, help="first build --db from this store ...")
    parser.add_argument("--copies", type=int, default=10, help="... this many times over")
    parser.add_argument(
        "--baseline-src", type=Path, help="also probe the saved index with remem from this src/"
    )
    parser.add_argument(
        "--baseline-db",
        type=Path,
        help="the baseline's own copy of --db (a baseline older than a migration of this src "
        "refuses a file this src opened)",
    )
    parser.add_argument(
        "--evict", action="store_true", help="drop the store's files from the page cache first"
    )
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parser.add_argument("--saved", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        probe(args.probe, json.loads(sys.stdin.read()), bool(args.saved))
        return
    if args.build:
        build(args.db, args.build)
    if args.replicate:
        replicate(args.replicate, args.db, args.copies)
    if not args.rounds:
        return
    result = run(args.db, args.rounds, args.warm, args.baseline_src, args.evict, args.baseline_db)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=2))


if __name__ == "__main__":
    main()
