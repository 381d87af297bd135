# Shared by scripts/demo and scripts/test: create .venv and install flowdesk into it when needed.
# Set FLOWDESK_EXTRAS before sourcing for the optional dependencies too: scripts/test installs
# ".[dev]" (pytest, ruff, mypy, stubs), scripts/demo only what flowdesk itself needs. Each install
# has its own stamp, so each re-installs when pyproject.toml changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
EXTRAS="${FLOWDESK_EXTRAS:-}"
TARGET="."
STAMP=.venv/.flowdesk-installed
if [ -n "$EXTRAS" ]; then
  TARGET=".[$EXTRAS]"
  STAMP="$STAMP-$EXTRAS"
fi
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  echo "installing flowdesk ($TARGET) into .venv ..."
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$TARGET"
  touch "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
