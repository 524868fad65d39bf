#!/usr/bin/env bash
# PDFs (receipts) are drawn by WeasyPrint, which needs Pango and at least one font from the
# system; pip cannot install them. Installs Debian's packages when missing and run as root.
set -euo pipefail
have_libs() {
  local libs
  libs=$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true)
  grep -q 'libpango-1\.0\.so\.0' <<<"$libs" && grep -q 'libpangoft2-1\.0\.so\.0' <<<"$libs" &&
    command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list 2>/dev/null | head -1)" ]
}
if have_libs; then exit 0; fi
packages="libpango-1.0-0 libpangoft2-1.0-0 fontconfig fonts-dejavu-core"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Pango and a font for PDF receipts: $packages"
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
else
  echo "PDF receipts need Pango and a font: sudo apt-get install $packages" >&2
  exit 1
fi
