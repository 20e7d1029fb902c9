#!/usr/bin/env bash
# Install the system tools some tests need (headless Chromium for the dashboard test,
# pdftoppm for the campaign-report test). Idempotent: skips what is already present.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v wrk >/dev/null 2>&1 || need+=(wrk)  # benchmarks/bench_http.py (falls back without it)
if [ ${#need[@]} -eq 0 ]; then
  echo "test deps present: chromium, chromium-driver, poppler-utils, wrk"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"; }; then
  echo "WARNING: could not install ${need[*]}: the tests that need them will skip with a reason" >&2
fi
