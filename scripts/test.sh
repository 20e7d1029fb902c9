#!/usr/bin/env bash
# Install into .venv, then lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/install-test-deps.sh
export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-ci}"
echo "== ruff" && .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy" && .venv/bin/mypy
echo "== benchmark smoke run (reports, never gates)"
.venv/bin/python benchmarks/bench_http.py --smoke || echo "benchmark smoke run did not complete (not gating)"
echo "== pytest" && .venv/bin/pytest
