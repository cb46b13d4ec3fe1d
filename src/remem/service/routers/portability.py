"""A tenant's whole memory as JSONL: export it, import it into another tenant or server."""

from __future__ import annotations

import io
import itertools

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from remem.errors import InvalidInput
from remem.service.deps import TenantMemory
from remem.service.json_route import JSONRoute
from remem.service.middleware import IMPORT_PATH
from remem.service.schemas import Counts

router = APIRouter(tags=["portability"], route_class=JSONRoute)


@router.get(
    "/v1/export",
    response_class=Response,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
def export(memory: TenantMemory) -> Response:
    """Every record of this tenant as JSONL, streamed from one snapshot; the last line (the
    trailer) holds the counts and checksum, so a cut-short response cannot be imported."""
    lines = memory.export_lines()
    first = next(lines)  # a store that cannot be read is an error response, not a cut stream
    return StreamingResponse(itertools.chain([first], lines), media_type="application/x-ndjson")


@router.post(
    IMPORT_PATH,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        }
    },
)
async def import_(request: Request, memory: TenantMemory, unverified: bool = False) -> Counts:
    """Load a JSONL export into this tenant, all or nothing (its trailer must match;
    ``unverified``: also an export of format 3 or older, which has none)."""
    raw = await request.body()
    if not raw.strip():
        raise InvalidInput("the request body is empty: send a remem JSONL export")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the export must be UTF-8 JSONL") from exc
    counts = await run_in_threadpool(memory.import_, io.StringIO(text), unverified=unverified)
    return Counts(**counts)
