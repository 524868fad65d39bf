#!/usr/bin/env bash
# Browser journeys run in Debian's chromium package, never a downloaded browser.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser journeys"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "The browser journeys need Debian's chromium: sudo apt-get install chromium" >&2
  exit 1
fi
