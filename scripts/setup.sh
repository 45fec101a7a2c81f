#!/usr/bin/env bash
# Idempotent setup: the main venv (.venv, Python 3.11) and the emulators' own
# environments (.emulators/). Safe to run again; does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PY311="${PY311:-}"
PY313="${PY313:-}"
find_python() {  # $1 = minor version, e.g. 3.11
    for cand in "python$1" "$HOME/.pyenv/versions/$1"*/bin/python "/usr/bin/python$1" "/usr/local/bin/python$1"; do
        for p in $cand; do
            if [ -x "$(command -v "$p" 2>/dev/null || echo "$p")" ] && "$p" -c "import sys; assert sys.version_info[:2] == tuple(map(int, '$1'.split('.')))" 2>/dev/null; then
                command -v "$p" 2>/dev/null || echo "$p"; return 0
            fi
        done
    done
    return 1
}
PY311="${PY311:-$(find_python 3.11 || true)}"
PY313="${PY313:-$(find_python 3.13 || true)}"
[ -n "$PY311" ] || { echo "setup: Python 3.11 not found. Install it (e.g. 'pyenv install 3.11') or set PY311=/path/to/python3.11." >&2; exit 1; }
[ -n "$PY313" ] || { echo "setup: Python 3.13 not found (the BigQuery emulator needs it). Install it (e.g. 'pyenv install 3.13') or set PY313=/path/to/python3.13." >&2; exit 1; }
# The Cloud Functions deploy on python312 (infra/sources.py); the twin runs each one from its
# bundle in a venv of that Python, built on first `salesphere local up` (.cache/bundles/).
PY312="${SALESPHERE_FUNCTION_PYTHON:-$(find_python 3.12 || true)}"
[ -n "$PY312" ] || { echo "setup: Python 3.12 not found (the Cloud Functions' runtime; the twin runs them on it). Install it (e.g. 'pyenv install 3.12') or set SALESPHERE_FUNCTION_PYTHON=/path/to/python3.12." >&2; exit 1; }

stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

# 1. Main environment: pinned lock, then the project itself (editable) without deps.
want="$(stamp requirements.lock pyproject.toml)"
if [ "$(cat .venv/.stamp 2>/dev/null)" != "$want" ]; then
    echo "setup: building .venv with $PY311 (first time: ~2-3 min)"
    [ -x .venv/bin/python ] || "$PY311" -m venv .venv
    .venv/bin/python -m pip install -q -r requirements.lock 2>&1 | { grep -v "is ignored: it is neither" || true; }
    .venv/bin/python -m pip install -q --no-deps -e .
    echo "$want" > .venv/.stamp
else
    echo "setup: .venv up to date"
fi

# 2. BigQuery emulator environment (Python 3.13, its own pins; --no-deps because its
#    metadata asks for duckdb>=2 while only duckdb 1.5.5 has offline extensions).
want="$(stamp emulators/bigquery.lock)"
if [ "$(cat .emulators/bigquery/.stamp 2>/dev/null)" != "$want" ]; then
    echo "setup: building .emulators/bigquery with $PY313"
    mkdir -p .emulators
    [ -x .emulators/bigquery/bin/python ] || "$PY313" -m venv .emulators/bigquery
    .emulators/bigquery/bin/python -m pip install -q --no-deps -r emulators/bigquery.lock 2>&1 | { grep -v "is ignored: it is neither" || true; }
    .emulators/bigquery/bin/python - <<'PY'
import duckdb_extensions
for name in ("icu", "json", "ducklake", "httpfs", "spatial"):
    duckdb_extensions.import_extension(name)
PY
    echo "$want" > .emulators/bigquery/.stamp
else
    echo "setup: .emulators/bigquery up to date"
fi

# 3. Pub/Sub emulator: Google's, from the Cloud SDK (needs Java 11+). Not installable from
#    the package registries; report clearly if it is missing.
if ! .venv/bin/python -c "from salesphere_tools.local.prereqs import find_pubsub_emulator; find_pubsub_emulator()" 2>/dev/null; then
    echo "setup: WARNING: Google's Pub/Sub emulator was not found. Install it with" >&2
    echo "       'gcloud components install pubsub-emulator' or apt package google-cloud-cli-pubsub-emulator." >&2
fi
echo "setup: done"
