#!/usr/bin/env bash
# Refresh the web inspector's vendored JavaScript from its npm packages, at pinned versions.
# The built files and their licences land in src/remem/ui/static/vendor/ and are committed:
# installing remem needs no JavaScript build. Run after changing a version below.
set -euo pipefail
cd "$(dirname "$0")/.."

HTMX=2.0.11
CYTOSCAPE=3.35.0
DEST=src/remem/ui/static/vendor

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "htmx.org@$HTMX" "cytoscape@$CYTOSCAPE" >/dev/null)
mkdir -p "$DEST"
tar -xzf "$work/htmx.org-$HTMX.tgz" -C "$work" && mv "$work/package" "$work/htmx"
tar -xzf "$work/cytoscape-$CYTOSCAPE.tgz" -C "$work" && mv "$work/package" "$work/cytoscape"
cp "$work/htmx/dist/htmx.min.js" "$DEST/htmx.min.js"
cp "$work/htmx/LICENSE" "$DEST/htmx.LICENSE"
cp "$work/cytoscape/dist/cytoscape.min.js" "$DEST/cytoscape.min.js"
cp "$work/cytoscape/LICENSE" "$DEST/cytoscape.LICENSE"
printf 'htmx.org %s\ncytoscape %s\n' "$HTMX" "$CYTOSCAPE" >"$DEST/VERSIONS"
echo "vendored htmx.org $HTMX and cytoscape $CYTOSCAPE into $DEST"
