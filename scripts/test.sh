#!/usr/bin/env bash
# The README's test command: set everything up, check style and types, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=${PYTHON:-python3}
echo "== ruff"; "$PY" -m ruff check src tests
echo "== mypy"; "$PY" -m mypy src
echo "== import-linter"
"$PY" -c "from importlinter.cli import lint_imports_command; lint_imports_command()"
echo "== pytest"
# Tests marked `slow` (hundreds of kill -9 fault injections) are left out (pyproject's
# addopts): `bash scripts/test.sh -m slow` runs only them, `-m ""` everything.
"$PY" -m pytest -q -p no:cacheprovider --durations=25 "$@" tests
