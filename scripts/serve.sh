#!/usr/bin/env bash
# Install into .venv, then serve config.yaml on port 8080 (the default model is built on first start).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/rtb serve --config config.yaml --port 8080 "$@"
