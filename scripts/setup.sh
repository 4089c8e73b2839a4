#!/usr/bin/env bash
# One-shot, idempotent setup: Debian packages, .venv/ with the pinned stack, this project in editable mode.
# A second run only checks stamps and finishes in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
APT_PACKAGES="ffmpeg sox asterisk-core-sounds-en-g722 gcin-voice sonic-pi-samples slurmctld slurmd slurm-client supercollider-language puredata-core
  chromium supercollider-server supercollider-dev puredata-dev nlohmann-json3-dev libcurl4-openssl-dev cmake g++ jackd2"   # the last line: the report checked in a browser, the real nn~ and nn.ar built for tests and played in real time

# 1. Python: the pinned stack (scipy 1.10.0) has wheels for Python 3.11 only.
if ! command -v "$PYTHON" >/dev/null; then
  echo "error: $PYTHON not found: install Python 3.11 (Debian 12: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$pyver" != "3.11" ]; then
  echo "error: Python 3.11 is needed (found $pyver at $(command -v "$PYTHON")): install it and run 'make setup PYTHON=/path/to/python3.11'" >&2
  exit 1
fi

# 2. Debian packages: only when one is missing, so a second run needs no network.
missing=""
for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
"$PYTHON" -c 'import ensurepip' 2>/dev/null || missing="$missing python3-venv"
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "error: missing Debian packages:$missing; run as root or: sudo apt-get install --no-install-recommends$missing" >&2
    exit 1
  fi
  echo "installing Debian packages:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 3. Virtual environment with the exact pins; the stamp records which lock it was built from.
stamp=.venv/.setup-stamp
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup: .venv is up to date"
  exit 0
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade "pip>=24,<27"
.venv/bin/python -m pip install -q -r requirements.lock
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
.venv/bin/python -c 'import rave, torch, torchaudio, nn_tilde; print("setup: torch", torch.__version__, "| rave ok")'
echo "$want" > "$stamp"
