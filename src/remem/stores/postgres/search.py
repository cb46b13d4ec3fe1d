"""Search in PostgreSQL: BM25 over the GIN-indexed tsvector, cosine over the HNSW index.

Both answer under the caller's filter in SQL, so what they return needs no second check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg

from remem.model import MemoryRecord
from remem.stores import statements as sql
from remem.stores.bm25_top import K1, B
from remem.stores.operations import SearchStore
from remem.stores.postgres.bm25_plan import CAP, plan, tsquery
from remem.stores.postgres.connection import PostgresConnection
from remem.stores.postgres.dialect import POSTGRES
from remem.stores.records import MemoryFilter
from remem.stores.rows import memory_from_row

BM25_K1, BM25_B = K1, B  # the SQLite store's (``bm25_top``), which are FTS5's and Lucene's
IDF_SAMPLE = 20_000  # rows of the tenant counted for IDF when ANALYZE has not run yet

# The query's distinct lexemes with what ANALYZE knows of them: frequency among rows
# (``most_common_elem_freqs`` lists one per element, then min, max and null share).
_LEXEME_STATS = """
WITH words AS (
    SELECT DISTINCT unnest(tsvector_to_array(to_tsvector('english', t))) AS lexeme
    FROM unnest(%s::text[]) AS t
), stats AS MATERIALIZED (
    SELECT s.most_common_elems::text::text[] AS elems, s.most_common_elem_freqs AS freqs
    FROM pg_stats s
    WHERE s.schemaname = current_schema() AND s.tablename = 'memories' AND s.attname = 'tsv'
        AND s.most_common_elems IS NOT NULL
)
SELECT w.lexeme,
    (SELECT st.freqs[array_position(st.elems, w.lexeme)] FROM stats st) AS freq,
    (SELECT st.freqs[cardinality(st.elems) + 1] FROM stats st) AS floor,
    (SELECT COALESCE((SELECT sum(v * f) FROM unnest(s.most_common_vals::text::float8[],
                s.most_common_freqs) AS x(v, f)), 0)
            + (1 - COALESCE((SELECT sum(f) FROM unnest(s.most_common_freqs) AS f), 0))
            * COALESCE((SELECT avg(h) FROM unnest(s.histogram_bounds::text::float8[]) AS h), 0)
        FROM pg_stats s WHERE s.schemaname = current_schema()
        AND s.tablename = 'memories' AND s.attname = 'ntokens') AS avgdl,
    (SELECT c.reltuples FROM pg_class c WHERE c.oid = 'memories'::regclass) AS reltuples
FROM words w ORDER BY w.lexeme
"""


class PostgresSearch(PostgresConnection, SearchStore):
    def _idf(
        self, conn: psycopg.Connection[Any], terms: Sequence[str], tenant: str
    ) -> tuple[list[str], list[float], float, list[float]]:
        """The query's lexemes, their BM25 IDF, the mean document length in tokens and each
        lexeme's estimated matching rows in the table.

        From the planner's statistics when ``ANALYZE`` has run: it keeps the frequencies of the
        most common lexemes of ``tsv`` (``pg_stats.most_common_elems``), and any other lexeme
        is rarer than the rarest of those. Before that (a new table, or a Citus coordinator,
        which has no statistics for distributed tables), from up to ``IDF_SAMPLE`` rows of the
        tenant: exact for small tenants, an estimate for big ones, always a bounded cost.
        """
        rows = conn.execute(_LEXEME_STATS, (list(terms),)).fetchall()
        if not rows:
            return [], [], 20.0, []
        lexemes = [r["lexeme"] for r in rows]
        first = rows[0]
        table_rows = max(float(first["reltuples"] or 0), 0.0)
        if first["floor"] is not None:
            floor = float(first["floor"]) / 2
            freqs = [float(r["freq"]) if r["freq"] is not None else floor for r in rows]
            avgdl = float(first["avgdl"] or 20.0)
        else:
            filters = ", ".join(
                f"COUNT(*) FILTER (WHERE s.tsv @@ %s::tsquery) AS df{i}"
                for i in range(len(lexemes))
            )
            counts = conn.execute(
                "SELECT COUNT(*) AS n, COALESCE(AVG(s.ntokens), 20) AS avgdl, "
                f"{filters} FROM (SELECT ntokens, tsv FROM memories WHERE tenant = %s LIMIT %s) s",
                [*(tsquery([x]) for x in lexemes), tenant, IDF_SAMPLE],
            ).fetchone()
            assert counts is not None
            total = int(counts["n"])
            freqs = [(counts[f"df{i}"] + 0.5) / (total + 1) for i in range(len(lexemes))]
            avgdl = float(counts["avgdl"])
            table_rows = max(table_rows, float(total))
        # Lucene's idf, ln(1 + (N - n + 0.5) / (n + 0.5)), as the SQLite store uses: never negative.
        idf = [max(math.log1p((1 - f) / f), 1e-6) if 0 < f <= 1 else 1e-6 for f in freqs]
        return lexemes, idf, max(avgdl, 1.0), [f * table_rows for f in freqs]

    def text_search(
        self, terms: Sequence[str], flt: MemoryFilter, k: int
    ) -> list[tuple[MemoryRecord, float]]:
        """BM25 (k1 = 1.2, b = 0.75, as SQLite's FTS5) over the OR of the terms.

        The rows ranked are every match while the lexemes' estimated matches stay within
        ``bm25_plan.BUDGET``, else the focused set of ``bm25_plan.plan`` (rows holding a rare
        lexeme or two common ones), topped up with other matches when it holds fewer than
        ``k``. They are ranked first by BM25 with every term frequency taken as 1, which needs
        no per-row unpacking; the best ``max(4k, 200)`` are then scored with their true term
        frequencies.
        """
        if not terms:
            return []
        with self._conn() as conn:
            lexemes, idf, avgdl, matches = self._idf(conn, terms, flt.scope.tenant)
            if not lexemes:
                return []  # only stop words
            chosen = plan(lexemes, matches)
            ranked = (lexemes, idf, avgdl)
            if chosen.focused is None:
                rows = self._rank(conn, ranked, (chosen.everything, None), flt, k)
            else:
                rows = self._rank(conn, ranked, (chosen.focused, CAP), flt, k)
                if len(rows) < k:
                    rest = f"({chosen.everything}) & !({chosen.focused})"
                    rows += self._rank(conn, ranked, (rest, k - len(rows)), flt, k - len(rows))
        return [(memory_from_row(r), float(r["score"])) for r in rows]

    @staticmethod
    def _rank(
        conn: psycopg.Connection[Any],
        ranked: tuple[list[str], list[float], float],
        read: tuple[str, int | None],
        flt: MemoryFilter,
        k: int,
    ) -> list[dict[str, Any]]:
        """The ``k`` best by BM25 of the rows matching the tsquery ``read[0]``, reading at
        most ``read[1]`` of them (in no order) when it is not None."""
        where, filter_params = sql.memory_where(flt, POSTGRES)
        lexemes, idf, avgdl = ranked
        rough = " + ".join(["%s * (h.tsv @@ %s::tsquery)::int"] * len(lexemes))
        rough_params = [
            x for pair in zip(idf, map(tsquery, ([x] for x in lexemes)), strict=True) for x in pair
        ]

        def norm(alias: str) -> str:
            return (
                f"{BM25_K1}::float8 * ({1 - BM25_B}::float8 + {BM25_B}::float8 "
                f"* {alias}.ntokens / %s::float8)"
            )

        statement = (
            f"WITH hits AS (SELECT {sql.MEMORY_SELECT}, m.rk, m.tsv, m.ntokens FROM memories m "
            f"WHERE m.tsv @@ %s::tsquery AND {where} LIMIT %s), "
            f"cand AS MATERIALIZED (SELECT h.*, ({rough}) / (1 + {norm('h')}) AS rough "
            "FROM hits h ORDER BY rough DESC LIMIT %s) "
            "SELECT c.*, (SELECT COALESCE(SUM(w.idf * cardinality(u.positions) "
            f"* {BM25_K1 + 1}::float8 / (cardinality(u.positions) + {norm('c')})), 0) "
            "FROM unnest(c.tsv) AS u "
            "JOIN unnest(%s::text[], %s::float8[]) AS w(lexeme, idf) ON w.lexeme = u.lexeme"
            ") AS score FROM cand c ORDER BY score DESC, c.rk LIMIT %s"
        )
        pool = max(4 * k, 200)
        params = [read[0], *filter_params, read[1], *rough_params, avgdl, pool, avgdl, lexemes]
        return conn.execute(statement, [*params, idf, k]).fetchall()

    def vector_search(
        self, vector: np.ndarray, flt: MemoryFilter, k: int
    ) -> list[tuple[MemoryRecord, float]]:
        """HNSW (iterative, relaxed order, re-sorted here); exact when the filter leaves too few."""
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        where, params = sql.memory_where(flt, POSTGRES)
        base = (
            f"SELECT {sql.MEMORY_SELECT}, m.embedding <=> %s AS distance FROM memories m "
            f"WHERE {where} AND m.embedding IS NOT NULL "
        )
        with self._conn() as conn:
            if self._dimension(conn) is None:
                return []  # nothing was ever embedded in this store
            rows = conn.execute(
                base + "ORDER BY m.embedding <=> %s LIMIT %s", [query, *params, query, k]
            ).fetchall()
            if len(rows) < k:
                # The graph walk may stop (hnsw.max_scan_tuples) before a selective filter has
                # let k rows through. Few rows pass such a filter, so scan them exactly: the
                # `+ 0` keeps the planner off the HNSW index.
                rows = conn.execute(
                    base + "ORDER BY (m.embedding <=> %s) + 0 LIMIT %s",
                    [query, *params, query, k],
                ).fetchall()
        rows.sort(key=lambda r: r["distance"])
        return [(memory_from_row(r), 1.0 - float(r["distance"])) for r in rows]
