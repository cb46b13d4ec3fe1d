"""The default recipe's ranker: a linear model over what the retrievers say about each candidate.

The candidates are what the searches returned (BM25 and dense, each again inside the
query's time window, and the closest standing directives). Each gets a handful of general
features, none of which knows which benchmark or product it serves:

- ``bn``: its BM25 score over the best BM25 score of the query (0 if BM25 did not find it);
  ``brr``: ``5 / (5 + its BM25 rank)``;
- ``dz``: its cosine as a z-score among the dense search's results (floored at
  ``FLOOR``, which is also the value of a candidate dense did not return); ``drr``: as ``brr``;
- ``win``: it happened inside the time window the query names;
- ``user``: a user's turn; ``directive``: one of the standing instructions closest to the
  query (the directive search returned it); ``speaker``: the query names its speaker;
  ``past``: the query asks what was said or done before ("did you", "I mentioned", "when
  did"), not for help with something new (``asks_about_the_past``), and the candidate is
  a participant's turn (origin user or assistant: what was said, not a tool's output or a
  derived memory, which gain nothing from the question's kind); ``you``: it asks what
  the assistant said or did ("what did you recommend", ``asks_the_assistant``);
  ``assistant``: the assistant's own turn (its origin, fixed at write time: a tool's output
  or a derived memory is not one, so "what did you recommend" lifts no planted tool result);
- ``prev_*``/``next_*``: the ``bn``/``dz`` of the turn before and after it in its session
  (when that turn is a candidate too, and someone else's): the answer to "what did Ana say
  about X" is often the reply to the turn that mentions X;
- ``sess_*``: the best ``bn``/``dz`` in its session, so a session that is about the query
  lifts its turns;
- ``a*b``: the product of two features (``user*dz``: how much more the dense score counts
  on a user's turn; ``past*directive``: how much less a standing instruction counts when the
  question is about what happened, which the conversation answers, not the instruction;
  ``you*assistant*drr``: how much more the dense rank counts on the assistant's turns when
  the question asks what the assistant said; ``past*drr``: how much more it counts for any
  question about the past, which restates what was said in other words).

The weights are fitted by bench/recall_fit.py (pairwise logistic regression, numpy only) on
the dev benchmarks and shipped in ``rankers/default.json`` beside this file, with the figures they
were validated on (leave-one-dataset-out and across conversations; docs/recall.md).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any

import numpy as np

from remem.model import Episode, MemoryRecord
from remem.retrieval.fusion import Fused
from remem.text.timeq import TimeWindow

#: The dense z-score of a candidate the dense search did not return, and the lowest counted.
FLOOR = -2.0
#: Rank features are ``RANK_K / (RANK_K + rank)``: 1 at the top, 0.5 at rank 5.
RANK_K = 5.0

#: Verbs of saying in the past tense, after a person ("I mentioned", "you recommended").
_SAYING = "said|mentioned|told|asked|suggested|recommended|discussed"
#: A question about what was said or done before: an auxiliary in the past tense before a
#: person ("did you", "have I"), a person before a verb of saying or deciding ("I mentioned",
#: "you recommended"), "what was", "when did".
PAST = re.compile(
    r"\b(?:did|have|had|was|were)\s+(?:i|you|we)\b"
    rf"|\b(?:i|you|we)\s+(?:{_SAYING}|decided|planned|brought)\b"
    r"|\bwhat\s+was\b|\bwhen\s+did\b",
    re.IGNORECASE,
)
#: A question about what the assistant said or did: "did you", "have you", "you recommended".
YOU = re.compile(
    r"\b(?:did|have|had)\s+you\b"
    r"|\byou\s+(?:said|mentioned|suggested|recommended|told|advised|proposed|explained)\b",
    re.IGNORECASE,
)

#: A question about what was said in the conversation itself ("what did I mention …", "when did
#: I say …", "you recommended"): it is addressed to the memory, so it never abstains.
SAID = re.compile(
    r"\b(?:did|have|had)\s+(?:i|you|we)\s+(?:say|mention|tell|ask|suggest|recommend|discuss"
    rf"|bring\s+up)\b|\b(?:i|you|we)\s+(?:{_SAYING})\b",
    re.IGNORECASE,
)

#: Feature groups shown as a hit's boosts (the rest is the base relevance of its signals).
BOOST_GROUPS: dict[str, tuple[str, ...]] = {
    "user": ("user",),
    "time": ("win",),
    "directive": ("directive",),
    "speaker": ("speaker",),
    "neighbours": ("prev_bn", "next_bn", "prev_dz", "next_dz"),
    "session": ("sess_bn", "sess_dz"),
    "assistant": ("you",),
}


@dataclass(frozen=True)
class Candidates:
    """One row per candidate, in any order; ``prev``/``next``/``session`` index these rows."""

    bm25: np.ndarray  # raw BM25 score, nan where BM25 did not return it
    bm25_rank: np.ndarray  # rank in the BM25 list, 0 where absent
    cosine: np.ndarray  # cosine to the query, nan where no dense search returned it
    dense_rank: np.ndarray  # rank in the dense list, 0 where absent
    dense_scores: np.ndarray  # every cosine the dense search returned (its distribution)
    in_window: np.ndarray
    user: np.ndarray
    directive: np.ndarray  # a standing directive among the closest to the query
    speaker: np.ndarray  # the query names the speaker
    prev: np.ndarray  # row of the turn before in the same session, -1 if none
    next: np.ndarray  # row of the turn after, -1 if none
    session: np.ndarray  # group id: candidates of one session share it
    past: bool = False  # the query asks about the past (``asks_about_the_past``)
    you: bool = False  # the query asks what the assistant said (``asks_the_assistant``)
    # the assistant's own turns (origin "assistant"); None: every turn not the user's
    assistant: np.ndarray | None = None
    # turns of the conversation's participants (origin "user" or "assistant"); None: all
    participant: np.ndarray | None = None


def asks_about_the_past(query: str) -> bool:
    """The query asks what was said or done ("what did you recommend for X?"), not for help
    with something new ("how do I do X?"): standing instructions apply to the second kind."""
    return PAST.search(query) is not None


def asks_the_assistant(query: str) -> bool:
    """The query asks what the assistant said or did ("how did you recommend …"): its answer
    is in the assistant's turns, which the user-turn prior otherwise keeps out."""
    return YOU.search(query) is not None


def asks_what_was_said(query: str) -> bool:
    """The query asks what was said in the conversation ("what did I mention …"), not about the
    world ("what degree did I get?"): however far its words are from every memory, it is a
    question to the memory, not an off-topic one."""
    return SAID.search(query) is not None


def speaker_named(speaker: str | None, terms: set[str]) -> bool:
    """The query names the speaker (by the first word of the name, as people do)."""
    return bool(speaker) and speaker.split()[0].lower() in terms  # type: ignore[union-attr]


def _rank_feature(rank: np.ndarray) -> np.ndarray:
    return np.where(rank > 0, RANK_K / (RANK_K + np.maximum(rank, 1)), 0.0)


def _neighbour(values: np.ndarray, index: np.ndarray, missing: float) -> np.ndarray:
    return np.where(index >= 0, values[np.maximum(index, 0)], missing)


def _session_best(values: np.ndarray, session: np.ndarray, missing: float) -> np.ndarray:
    best = np.full(int(session.max()) + 1 if len(session) else 0, missing)
    np.maximum.at(best, session, values)
    return best[session]


def base_features(c: Candidates) -> dict[str, np.ndarray]:
    """Every base feature of every candidate (see the module docstring)."""
    found = ~np.isnan(c.bm25)
    top = float(np.nanmax(c.bm25)) if found.any() else 1.0
    bn = np.where(found, np.nan_to_num(c.bm25) / (top or 1.0), 0.0)
    scores = c.dense_scores
    mean = float(scores.mean()) if len(scores) else 0.0
    spread = float(scores.std()) if len(scores) > 1 else 1.0
    z = (np.nan_to_num(c.cosine, nan=-np.inf) - mean) / (spread + 1e-6)
    dz = np.maximum(np.where(np.isnan(c.cosine), FLOOR, z), FLOOR)
    return {
        "bn": bn,
        "brr": _rank_feature(c.bm25_rank),
        "dz": dz,
        "drr": _rank_feature(c.dense_rank),
        "win": c.in_window.astype(float),
        "user": c.user.astype(float),
        "directive": c.directive.astype(float),
        "speaker": c.speaker.astype(float),
        "past": float(c.past) * (np.ones(len(c.user)) if c.participant is None else c.participant),
        "you": np.full(len(c.user), float(c.you)),
        "assistant": (~c.user if c.assistant is None else c.assistant).astype(float),
        "prev_bn": _neighbour(bn, c.prev, 0.0),
        "next_bn": _neighbour(bn, c.next, 0.0),
        "prev_dz": _neighbour(dz, c.prev, FLOOR),
        "next_dz": _neighbour(dz, c.next, FLOOR),
        "sess_bn": _session_best(bn, c.session, 0.0),
        "sess_dz": _session_best(dz, c.session, FLOOR),
    }


def feature_matrix(c: Candidates, names: Sequence[str]) -> np.ndarray:
    """Rows: candidates; columns: ``names`` (a base feature, or ``a*b`` for a product)."""
    base = base_features(c)
    columns = []
    for name in names:
        first, *rest = name.split("*")
        column = base[first]
        for part in rest:
            column = column * base[part]
        columns.append(column)
    return np.stack(columns, axis=1) if columns else np.zeros((len(c.user), 0))


@dataclass(frozen=True)
class Ranker:
    """A fitted linear ranker: ``score = features @ weights`` (higher is better)."""

    features: tuple[str, ...]
    weights: np.ndarray
    about: Mapping[str, Any]  # how it was fitted and validated

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Ranker:
        weights = data["weights"]
        return cls(
            features=tuple(weights),
            weights=np.array([float(w) for w in weights.values()]),
            about={k: v for k, v in data.items() if k != "weights"},
        )

    def to_json(self) -> dict[str, Any]:
        weights = {f: round(float(w), 6) for f, w in zip(self.features, self.weights, strict=True)}
        return {"weights": weights, **self.about}

    def scores(self, c: Candidates) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Each candidate's score and, per boost group, how much of it that group gave."""
        parts = feature_matrix(c, self.features) * self.weights
        boosts = {group: parts[:, cols].sum(axis=1) for group, cols in self._groups.items()}
        return parts.sum(axis=1), boosts

    @cached_property
    def _groups(self) -> dict[str, list[int]]:
        """The feature columns of each boost group (a product counts for both its parts)."""
        groups = {}
        for group, members in BOOST_GROUPS.items():
            cols = [i for i, f in enumerate(self.features) if set(f.split("*")) & set(members)]
            if cols:
                groups[group] = cols
        return groups


@cache
def load(name: str = "default") -> Ranker:
    """A ranker shipped with remem (``remem/retrieval/rankers/<name>.json``)."""
    text = resources.files("remem.retrieval").joinpath("rankers", f"{name}.json").read_text()
    return Ranker.from_json(json.loads(text))


#: Rankings whose scores are BM25 scores, and those whose scores are cosine similarities.
BM25_SIGNALS = ("bm25", "bm25@time")
COSINE_SIGNALS = ("dense", "dense@time", "directive")


def _session_key(memory: MemoryRecord) -> Any:
    """Turns of one session share a key; anything else (a fact, a summary) is alone."""
    s = memory.scope
    if memory.kind == "episode" and s.session_id is not None:
        return (s.user_id, s.agent_id, s.session_id)
    return memory.id


def to_place(fused: Sequence[Fused]) -> list[str]:
    """The turns whose place in their session matters: those sharing it with another candidate.

    Only they can have a candidate neighbour, so only their episodes need reading.
    """
    keys = [_session_key(f.memory) for f in fused]
    shared = {k for k, n in Counter(keys).items() if n > 1}
    return [
        f.memory.provenance[0]
        for f, k in zip(fused, keys, strict=True)
        if k in shared and f.memory.provenance
    ]


def _reply(row: int, neighbour: int, authors: Sequence[tuple[Any, Any]]) -> int:
    """``neighbour`` if someone else wrote it: only a reply (or what it answers) speaks for a
    turn. Two turns in a row from one author are each other's context, not evidence, and in
    a short store every such turn would lift the next one for the same query term."""
    return neighbour if neighbour >= 0 and authors[neighbour] != authors[row] else -1


def candidates_of(
    fused: Sequence[Fused],
    dense: Sequence[float],
    episodes: Mapping[str, Episode],
    terms: Sequence[str],
    window: TimeWindow | None,
    query: str = "",
) -> Candidates:
    """The ranker's view of ``fused`` (each with the signals that found it).

    ``dense`` are the scores the dense search returned; ``episodes`` the turns of `to_place`,
    which place them in their session (neighbours are consecutive turns); ``query`` says what
    kind of question it is (``asks_about_the_past``, ``asks_the_assistant``).
    """
    named = set(terms)
    nan = float("nan")
    bm25, cosine, bm25_rank, dense_rank = [], [], [], []
    in_window, user, directive, speaker, session = [], [], [], [], []
    assistant: list[bool] = []
    participant: list[bool] = []
    slots: dict[tuple[Any, int], int] = {}
    authors: list[tuple[Any, Any]] = []
    sessions: dict[Any, int] = {}
    for i, f in enumerate(fused):
        signals, m = f.signals, f.memory
        lexical = [signals[n].score for n in BM25_SIGNALS if n in signals]
        semantic = [signals[n].score for n in COSINE_SIGNALS if n in signals]
        bm25.append(max(lexical) if lexical else nan)
        cosine.append(max(semantic) if semantic else nan)
        bm25_rank.append(signals["bm25"].rank if "bm25" in signals else 0)
        dense_rank.append(signals["dense"].rank if "dense" in signals else 0)
        at = m.valid_from
        in_window.append(window is not None and at is not None and window.start <= at < window.end)
        user.append(m.metadata.get("role") == "user")
        assistant.append(m.origin == "assistant")
        participant.append(m.origin in ("user", "assistant"))
        directive.append("directive" in signals)
        speaker.append(speaker_named(m.metadata.get("speaker"), named))
        session.append(sessions.setdefault(_session_key(m), len(sessions)))
        authors.append((m.metadata.get("role"), m.metadata.get("speaker")))
        episode = episodes.get(m.provenance[0]) if m.kind == "episode" and m.provenance else None
        if episode is not None:
            e = episode.scope
            slots[((e.tenant, e.user_id, e.agent_id, e.session_id), episode.seq)] = i
    prev = np.full(len(fused), -1, dtype=np.int64)
    nxt = np.full(len(fused), -1, dtype=np.int64)
    for (stream, seq), i in slots.items():
        prev[i] = _reply(i, slots.get((stream, seq - 1), -1), authors)
        nxt[i] = _reply(i, slots.get((stream, seq + 1), -1), authors)
    return Candidates(
        bm25=np.array(bm25, dtype=np.float64),
        bm25_rank=np.array(bm25_rank, dtype=np.int64),
        cosine=np.array(cosine, dtype=np.float64),
        dense_rank=np.array(dense_rank, dtype=np.int64),
        dense_scores=np.asarray(dense, dtype=np.float64),
        in_window=np.array(in_window, dtype=bool),
        user=np.array(user, dtype=bool),
        directive=np.array(directive, dtype=bool),
        speaker=np.array(speaker, dtype=bool),
        prev=prev,
        next=nxt,
        session=np.array(session, dtype=np.int64),
        past=asks_about_the_past(query),
        you=asks_the_assistant(query),
        assistant=np.array(assistant, dtype=bool),
        participant=np.array(participant, dtype=float),
    )


def rerank(
    fused: Sequence[Fused],
    dense: Sequence[float],
    episodes: Mapping[str, Episode],
    terms: Sequence[str],
    window: TimeWindow | None,
    model: Ranker,
    query: str = "",
) -> list[Fused]:
    """``fused`` re-scored by ``model`` (score in (0, 1), boosts per feature group), best first."""
    if not fused:
        return []
    raw, parts = model.scores(candidates_of(fused, dense, episodes, terms, window, query))
    scores = (1.0 / (1.0 + np.exp(-np.clip(raw, -60.0, 60.0)))).tolist()
    groups = {g: np.round(b, 4).tolist() for g, b in parts.items()}
    for i, f in enumerate(fused):
        f.score = scores[i]
        f.boosts = {g: b[i] for g, b in groups.items() if b[i]}
    return sorted(fused, key=lambda f: -f.score)
