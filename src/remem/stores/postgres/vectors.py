"""numpy arrays <-> pgvector's ``vector``, in binary both ways (text too, when read as text)."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import psycopg
from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format


class _VectorDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: np.ndarray) -> bytes:
        flat = np.asarray(obj, dtype=">f4").reshape(-1)
        return struct.pack(">HH", len(flat), 0) + flat.tobytes()


class _VectorLoader(Loader):
    format = Format.BINARY

    def load(self, data: Any) -> np.ndarray:
        return np.frombuffer(bytes(data), dtype=">f4", offset=4).astype(np.float32)


class _VectorTextLoader(Loader):
    format = Format.TEXT

    def load(self, data: Any) -> np.ndarray:
        return np.array(bytes(data).decode()[1:-1].split(","), dtype=np.float32)


def register_vector(conn: psycopg.Connection[Any], oid: int) -> None:
    """numpy arrays bind as ``vector`` on ``conn``, and ``vector`` columns read as arrays."""
    dumper = type("VectorDumper", (_VectorDumper,), {"oid": oid})
    conn.adapters.register_dumper(np.ndarray, dumper)
    conn.adapters.register_loader(oid, _VectorLoader)
    conn.adapters.register_loader(oid, _VectorTextLoader)
