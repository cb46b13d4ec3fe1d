"""Fit the default recipe's ranker on the dev dumps and write remem/retrieval/rankers/default.json.

Pairwise logistic regression (numpy only): for every question, each gold turn against
the 30 strongest non-gold candidates of BM25 and dense; every dev dataset carries the
same total weight (HaluMem's three users share one). Before writing, it reports the model
in-set, across conversations
(each conversation scored by a model fitted without it) and leave-one-dataset-out
(each of LoCoMo, BEAM and HaluMem scored by a model fitted on the other two), and writes
those figures into the JSON beside the weights.

    PYTHONPATH=src python bench/recall_dump.py      # once: the dumps under /tmp/recall/dump
    PYTHONPATH=src python bench/recall_fit.py       # fit, validate, write rankers/default.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import recall_lab as lab

from remem.retrieval.ranker import Ranker

OUT = Path(__file__).parents[1] / "src/remem/retrieval/rankers/default.json"


def _rounded(result: dict[str, dict[int, float]]) -> dict[str, dict[str, float]]:
    return {s: {f"@{k}": round(v, 3) for k, v in r.items()} for s, r in result.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dump", default="/tmp/recall/dump")
    parser.add_argument("--vectors", default=None, help="turn vectors other than the dump's own")
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--dry-run", action="store_true", help="report, do not write")
    args = parser.parse_args()
    data = lab.load(Path(args.dump), vectors=args.vectors)
    lab.build(data)
    model = lab.fit_pairs(data, list(data))
    results = {
        "bm25_alone": lab.evaluate(data, lab.bm25_only),
        "dense_alone": lab.evaluate(data, lab.dense_only),
        **lab.validate(data, lab.fit_pairs),
    }
    print(lab.table(results))
    ranker = Ranker(
        features=lab.FEATURES,
        weights=np.asarray(model["coef"]),
        about={
            "fit": "pairwise logistic regression, bench/recall_fit.py",
            "pool": lab.POOL_K,
            "trained_on": list(data),
            "dataset_weights": {s: lab.SET_WEIGHTS.get(s, 1.0) for s in data},
            "validation": {name: _rounded(r) for name, r in results.items()},
        },
    )
    if not args.dry_run:
        Path(args.out).write_text(json.dumps(ranker.to_json(), indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
