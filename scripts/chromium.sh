#!/usr/bin/env bash
# Headless Chromium from Debian's packages for the web inspector's browser tests (tests/ui/).
# Idempotent: does nothing when /usr/bin/chromium is already there. Playwright drives this
# browser (executable_path); it never downloads one of its own.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "scripts/chromium.sh: not root, cannot apt-get install chromium" >&2
    exit 1
fi
echo "scripts/chromium.sh: installing Debian's chromium and chromium-driver" >&2
export DEBIAN_FRONTEND=noninteractive
# Another apt run (another setup script) may hold the lock: wait for it rather than fail.
log=$(mktemp)
if ! { apt-get -o DPkg::Lock::Timeout=600 update && apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends chromium chromium-driver fonts-dejavu-core; } >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi
rm -f "$log"
