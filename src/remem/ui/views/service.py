"""Stats (the tenant's counts and this server's request latency) and eval reports (the JSON
and PNG files ``remem eval`` writes, from the folder ``remem ui --evals`` names)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from remem.errors import NotFound
from remem.ui.pages import PageDep, PageRoute

router = APIRouter(prefix="/ui", route_class=PageRoute, include_in_schema=False)

#: The histogram the service's RequestMetrics fills (remem.service.metrics).
LATENCY = "remem_http_request_duration_seconds"


@router.get("/stats", response_class=HTMLResponse)
def stats(request: Request, p: PageDep) -> HTMLResponse:
    return p.render("stats.html", stats=p.memory.stats(), latency=_latency(request))


def _latency(request: Request) -> list[dict[str, Any]]:
    """Per route: requests, mean and the bucket holding the 95th percentile, slowest first."""
    registry = request.app.state.remem.metrics.registry
    routes: dict[tuple[str, str], dict[str, Any]] = {}
    for family in registry.collect():
        if family.name != LATENCY:
            continue
        for sample in family.samples:
            key = (sample.labels.get("method", ""), sample.labels.get("route", ""))
            row = routes.setdefault(key, {"method": key[0], "route": key[1], "buckets": []})
            if sample.name.endswith("_count"):
                row["count"] = int(sample.value)
            elif sample.name.endswith("_sum"):
                row["sum"] = sample.value
            elif sample.name.endswith("_bucket"):
                row["buckets"].append((float(sample.labels["le"]), sample.value))
    rows = [_summary(r) for r in routes.values() if r.get("count")]
    return sorted(rows, key=lambda r: -r["mean_ms"])


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    count = row["count"]
    p95 = next((le for le, n in sorted(row["buckets"]) if n >= 0.95 * count), float("inf"))
    return {
        "method": row["method"],
        "route": row["route"],
        "count": count,
        "mean_ms": 1000 * row.get("sum", 0.0) / count,
        "p95_ms": None if p95 == float("inf") else 1000 * p95,
    }


def _reports(folder: Path | None) -> dict[str, dict[str, Path]]:
    """Report name -> its files (json, png), as ``remem eval --out`` writes them."""
    if folder is None or not folder.is_dir():
        return {}
    found: dict[str, dict[str, Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix in (".json", ".png") and path.is_file():
            found.setdefault(path.stem, {})[path.suffix[1:]] = path
    return found


@router.get("/evals", response_class=HTMLResponse)
def evals(p: PageDep, name: str = "") -> HTMLResponse:
    reports = _reports(p.evals)
    shown = None
    if name:
        if name not in reports:
            raise NotFound(f"no eval report {name!r} in the folder")
        files = reports[name]
        body = json.loads(files["json"].read_text(encoding="utf-8")) if "json" in files else None
        shown = {
            "name": name,
            "json": json.dumps(body, indent=2) if body else "",
            "png": "png" in files,
        }
    return p.render("evals.html", folder=p.evals, reports=sorted(reports), shown=shown)


@router.get("/evals/{name}.png")
def eval_plot(p: PageDep, name: str) -> FileResponse:
    """A report's plot: only a file the folder listing names, never a path from the URL."""
    files = _reports(p.evals).get(name, {})
    if "png" not in files:
        raise NotFound(f"no plot for eval report {name!r}")
    return FileResponse(files["png"], media_type="image/png")
