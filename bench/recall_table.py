"""The retrieval-quality table of docs/benchmarks.md: every dev set, the default and each signal alone.

Runs `remem eval` (the same `evaluate` and reports) on LoCoMo dev5, BEAM 100K and the three
HaluMem users, each system on the same index in the same run, and prints one Markdown table
of the headline recall at k = 5 and 10, with the never-below-its-best-signal check.

    PYTHONPATH=src python bench/recall_table.py --data ../shared/data \\
        --workdir /tmp/remem-eval-work --out /tmp/eval-results/recall

``--workdir`` keeps the ingested stores, so a second run skips ingest (delete it after a
change to what ingest stores). Each set's full reports (Markdown, JSON, PNG) land in
``--out/<set>/``, the table in ``--out/table.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from remem.eval import report
from remem.eval.metrics import HEADLINE
from remem.eval.runner import evaluate

#: (label, dataset, path under the data folder)
DEV_SETS = (
    ("LoCoMo dev5", "locomo", "locomo/locomo10_dev5.json"),
    ("BEAM 100K", "beam", "beam/chats/100K"),
    ("HaluMem user0", "halumem", "halumem/77samuel_pilot_slices/pilot_slice_user0.jsonl"),
    ("HaluMem user3", "halumem", "halumem/77samuel_pilot_slices/pilot_slice_user3.jsonl"),
    ("HaluMem user12", "halumem", "halumem/77samuel_pilot_slices/pilot_slice_user12.jsonl"),
)
SYSTEMS = ("remem", "bm25", "dense")
KS = (5, 10)


def _slug(label: str) -> str:
    return label.lower().replace(" ", "-")


def run(data: Path, workdir: Path, out: Path) -> list[dict[str, Any]]:
    summaries = []
    for label, dataset, rel in DEV_SETS:
        started = time.perf_counter()
        summary = evaluate(
            dataset, data / rel, workdir=workdir, systems=SYSTEMS, keep=True
        ).summary()
        summary["label"] = label
        summary["wall_seconds"] = time.perf_counter() - started
        report.write(summary, out / _slug(label))
        summaries.append(summary)
        print(f"{label}: {summary['wall_seconds']:.0f} s", flush=True)
    return summaries


def table(summaries: list[dict[str, Any]]) -> str:
    head = " | ".join(f"{s} @{k}" for s in SYSTEMS for k in KS)
    lines = [
        f"| dev set (metric, questions) | {head} | never below its best signal |",
        "|---" * (len(SYSTEMS) * len(KS) + 2) + "|",
    ]
    for summary in summaries:
        metric = HEADLINE[summary["dataset"]][0]
        systems = summary["systems"]
        n = systems["remem"]["n"].get(f"{metric}@5", 0)
        cells = []
        for system in SYSTEMS:
            scores = {k: systems[system]["overall"].get(f"{metric}@{k}") for k in KS}
            best = {
                k: max(systems[s]["overall"].get(f"{metric}@{k}") or 0.0 for s in SYSTEMS)
                for k in KS
            }
            cells += [
                f"**{scores[k]:.3f}**" if scores[k] == best[k] else f"{scores[k]:.3f}" for k in KS
            ]
        checks = summary["signal_check"]
        verdict = (
            "yes"
            if all(c["ok"] for c in checks)
            else "**NO** (k = " + ", ".join(str(c["k"]) for c in checks if not c["ok"]) + ")"
        )
        lines.append(
            f"| {summary['label']} ({metric}, {n}) | " + " | ".join(cells) + f" | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/remem-eval-work"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/eval-results/recall"))
    args = parser.parse_args()
    summaries = run(args.data, args.workdir, args.out)
    text = table(summaries)
    (args.out / "table.md").write_text(text)
    (args.out / "table.json").write_text(
        json.dumps(
            [
                {
                    "label": s["label"],
                    "wall_seconds": s["wall_seconds"],
                    "ingest_turns_per_s": s["ingest_turns_per_s"],
                    "signal_check": s["signal_check"],
                    "systems": {n: a["overall"] for n, a in s["systems"].items()},
                    "latency_ms_p95": {n: a["latency_ms_p95"] for n, a in s["systems"].items()},
                }
                for s in summaries
            ],
            indent=2,
        )
        + "\n"
    )
    print(text)


if __name__ == "__main__":
    main()
