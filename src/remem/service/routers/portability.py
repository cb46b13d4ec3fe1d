"""A tenant's whole memory as JSONL: export it, import it into another tenant or server."""

from __future__ import annotations

import io
import json

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from remem.errors import InvalidInput
from remem.service.deps import TenantMemory
from remem.service.middleware import IMPORT_PATH
from remem.service.schemas import Counts

router = APIRouter(tags=["portability"])


@router.get(
    "/v1/export",
    response_class=Response,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def export(memory: TenantMemory) -> Response:
    """Every record of this tenant as JSONL (counts in the Remem-Counts header)."""
    out = io.StringIO()
    counts = memory.export(out)
    return Response(
        out.getvalue().encode(),
        media_type="application/x-ndjson",
        headers={"Remem-Counts": json.dumps(counts)},
    )


@router.post(
    IMPORT_PATH,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        }
    },
)
async def import_(request: Request, memory: TenantMemory) -> Counts:
    """Load a JSONL export into this tenant, all or nothing."""
    raw = await request.body()
    if not raw.strip():
        raise InvalidInput("the request body is empty: send a remem JSONL export")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the export must be UTF-8 JSONL") from exc
    counts = await run_in_threadpool(memory.import_, io.StringIO(text))
    return Counts(**counts)
