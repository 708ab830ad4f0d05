#!/usr/bin/env bash
# What tests/studio/test_studio_browser.py needs: Debian's chromium and chromium-driver (apt) and
# selenium (pip, into the active virtualenv). Run as root, or as a user with sudo.
# Without them the browser tests are skipped with a reason, never failed.
set -euo pipefail
SELENIUM="selenium>=4.10"  # keep in step with the "browser" extra in pyproject.toml

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  echo "install-browser: chromium and chromedriver are already installed"
else
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no apt-get on this machine; install Chromium and a matching" \
         "chromedriver with your package manager" >&2
    exit 1
  fi
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium chromium-driver
fi

if [ -z "${VIRTUAL_ENV:-}" ]; then
  echo "install-browser: no active virtualenv; installing selenium for $(command -v python)" >&2
fi
python -m pip install --quiet "$SELENIUM"
echo "install-browser: $(chromium --version 2>/dev/null | head -1); selenium $(python -c 'import selenium; print(selenium.__version__)')"
