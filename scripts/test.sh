#!/usr/bin/env bash
# The whole test suite on a fresh machine: install remem with its test extras, type-check src/,
# start a real PostgreSQL + pgvector on 127.0.0.1 (scripts/postgres.sh), run pytest.
# Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -e ".[dev]"

# Debian's headless chromium for the web inspector's browser tests (skips when installed).
if ! scripts/chromium.sh; then
    if [ "${CI:-}" = "true" ]; then
        echo "error: chromium could not be installed, and CI must run the browser tests" >&2
        exit 1
    fi
    echo "WARNING: chromium could not be installed: the browser tests will be SKIPPED" >&2
fi

# The type checker: src/ must be clean (pyproject [tool.mypy]); a second run reads its cache.
python -m mypy

if url=$(scripts/postgres.sh start | tail -n 1) && [ -n "$url" ]; then
    export REMEM_TEST_POSTGRES_URL="$url"
elif [ "${CI:-}" = "true" ]; then
    echo "error: PostgreSQL could not be started, and CI must run the PostgreSQL suite" >&2
    exit 1
else
    echo "WARNING: PostgreSQL could not be started: the PostgreSQL tests will be SKIPPED" >&2
fi

# Citus (coordinator + two workers) for the conformance suite's citus runs; built once from the
# vendored sources (scripts/citus.sh), which take a few minutes the first time only.
if [ -n "${REMEM_TEST_POSTGRES_URL:-}" ]; then
    citus_status=0
    url=$(scripts/citus.sh start | tail -n 1) || citus_status=$?
    if [ "$citus_status" = 0 ] && [ -n "$url" ]; then
        export REMEM_TEST_CITUS_URL="$url"
    elif [ "$citus_status" = 3 ]; then
        export REMEM_TEST_CITUS_SKIP="the Citus source archive is absent (scripts/citus.sh)"
    elif [ "${CI:-}" = "true" ]; then
        echo "error: the Citus cluster could not be started, and CI must run the Citus suite" >&2
        exit 1
    else
        echo "WARNING: the Citus cluster could not be started: the Citus tests will be SKIPPED" >&2
    fi
fi

python -m pytest "$@"
