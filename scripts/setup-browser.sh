#!/usr/bin/env bash
# Headless Chromium for the dashboard's browser test (Debian's package; ~20 s to install).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    echo "setup-browser: $(chromium --version 2>/dev/null | head -1)"
    exit 0
fi
if [ "$(id -u)" != "0" ] && ! command -v sudo >/dev/null 2>&1; then
    echo "setup-browser: Chromium is missing and this user cannot install packages." >&2
    echo "               Install Debian's 'chromium' package (apt-get install chromium) and retry." >&2
    exit 1
fi
SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
echo "setup-browser: installing Debian's chromium package"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
chromium --version
