"""The integrations run against the real framework packages; servers as in tests/service."""

from __future__ import annotations

import os

# mem0 reads these when it is imported: no telemetry calls home, no ~/.mem0 written.
os.environ.setdefault("MEM0_TELEMETRY", "False")
os.environ.setdefault("MEM0_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"), "remem-mem0"))

from tests.service.conftest import embedder, start_service  # noqa: F401
from tests.stores.conftest import postgres_url, schema_pool  # noqa: F401
