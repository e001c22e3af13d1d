#!/usr/bin/env bash
# Debian's Chromium for the review app's browser tests (Playwright's own download is unreachable).
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium >/dev/null
fi
