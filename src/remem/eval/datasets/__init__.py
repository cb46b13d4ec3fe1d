"""Neutral loaders for public long-term-memory benchmarks.

Every loader yields `Conversation` objects: the history to ingest (sessions of turns)
and the questions asked about it, with gold ids that match `Turn.id` / `Session.id`.

Id conventions (stable; metrics match on them):

===========  ========================  =============================  =====================
dataset      Conversation.id           Session.id                     Turn.id
===========  ========================  =============================  =====================
locomo       ``sample_id``             ``"D<s>"`` (from session_<s>)  ``dia_id`` ``"D<s>:<t>"``
longmemeval  ``question_id``           haystack session id as given   ``"<session_id>:<n>"``,
                                                                      n = 1-based position
beam         chat directory name       ``"b<batch_number>"``          ``str(message id)``
halumem      ``uuid``                  ``"s<i>"``, i = 0-based        ``"s<i>:<j>"``,
                                       position in ``sessions``       j = 0-based position
                                                                      in ``dialogue``
===========  ========================  =============================  =====================

All datetimes are timezone-aware UTC; naive source timestamps are taken as UTC.
Unparseable dates become ``None`` (never an exception).  Data problems that do not
prevent loading (malformed LoCoMo evidence, unmatched HaluMem evidence, dangling gold
ids) are logged as warnings and listed in `Conversation.issues`.  A missing file, a
file that is not valid JSON/JSONL, or a structure that does not match the expected
format raises `ValueError` naming the file and what was expected.

One module per benchmark (`locomo`, `longmemeval`, `beam`, `halumem`), the shared
records in `model` and the shared reading and date parsing in `parsing`; a new
benchmark is a module with a ``load_<name>(path, limit=None)`` added to `LOADERS`.
Standard library only: nothing here imports the engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from remem.eval.datasets.beam import BEAM_ANSWER_KEYS, load_beam
from remem.eval.datasets.halumem import load_halumem
from remem.eval.datasets.locomo import LOCOMO_CATEGORIES, load_locomo, parse_locomo_evidence
from remem.eval.datasets.longmemeval import load_longmemeval
from remem.eval.datasets.model import Conversation, MemoryPoint, Question, Session, Turn
from remem.eval.datasets.parsing import parse_datetime

__all__ = [
    "BEAM_ANSWER_KEYS",
    "DATASETS",
    "LOADERS",
    "LOCOMO_CATEGORIES",
    "Conversation",
    "Loader",
    "MemoryPoint",
    "Question",
    "Session",
    "Turn",
    "load",
    "load_beam",
    "load_halumem",
    "load_locomo",
    "load_longmemeval",
    "parse_datetime",
    "parse_locomo_evidence",
]


class Loader(Protocol):
    """Reads one benchmark's file or folder; yields at most `limit` conversations."""

    def __call__(self, path: str | Path, limit: int | None = None) -> Iterator[Conversation]: ...


LOADERS: dict[str, Loader] = {
    "locomo": load_locomo,
    "longmemeval": load_longmemeval,
    "beam": load_beam,
    "halumem": load_halumem,
}
DATASETS: tuple[str, ...] = tuple(LOADERS)


def load(dataset: str, path: str | Path, limit: int | None = None) -> Iterator[Conversation]:
    """Load `dataset` (one of `DATASETS`) from `path`; yield at most `limit` conversations."""
    key = dataset.strip().lower() if isinstance(dataset, str) else dataset
    if key not in LOADERS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {', '.join(DATASETS)}")
    return LOADERS[key](path, limit=limit)
