"""The vendored browser code is what scripts/vendor_ui.sh pins, with its licences, inside the
package (hatch ships everything under src/remem, so `pip install` carries it)."""

from __future__ import annotations

import re
from pathlib import Path

import remem.ui

REPO = Path(__file__).resolve().parents[2]
VENDOR = Path(remem.ui.__file__).parent / "static" / "vendor"


def test_vendored_files_match_the_pinned_versions() -> None:
    script = (REPO / "scripts" / "vendor_ui.sh").read_text(encoding="utf-8")
    pins = dict(re.findall(r"^(HTMX|CYTOSCAPE)=(\S+)$", script, re.M))
    assert (VENDOR / "VERSIONS").read_text().split() == [
        "htmx.org",
        pins["HTMX"],
        "cytoscape",
        pins["CYTOSCAPE"],
    ]
    for name in ("htmx", "cytoscape"):
        assert "Permission" in (VENDOR / f"{name}.LICENSE").read_text()
        assert (VENDOR / f"{name}.min.js").stat().st_size > 10_000
    for name, pin in (("htmx", pins["HTMX"]), ("cytoscape", pins["CYTOSCAPE"])):
        assert f'"{pin}"' in (VENDOR / f"{name}.min.js").read_text(encoding="utf-8")
