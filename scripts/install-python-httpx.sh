#!/usr/bin/env bash
# Installs Debian's python3-httpx (for /usr/bin/python3) so the Python SDK's AsyncDelega is
# checked too. Idempotent: does nothing when /usr/bin/python3 already imports httpx. Needs root
# (or passwordless sudo) and apt-get.
set -euo pipefail

if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import httpx' 2>/dev/null; then
  echo "httpx already importable by /usr/bin/python3: $(/usr/bin/python3 -c 'import httpx; print(httpx.__version__)')"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-get not found: install httpx for python3 by hand (pip install httpx) to check AsyncDelega" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "installing python3-httpx needs root: run this script as root (or with passwordless sudo)" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# apt-get update only when the package is not known yet (install-chromium.sh may just have run it).
apt-cache show python3-httpx >/dev/null 2>&1 || $SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends python3-httpx
/usr/bin/python3 -c 'import httpx; print("httpx", httpx.__version__)'
