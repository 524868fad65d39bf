#!/usr/bin/env bash
# Prints the path of a Python >= 3.12 interpreter (Django 6 needs it), or explains what is missing.
# Order: python3.13, python3.12, python3 (each only if it really runs), then pyenv's versions.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
for candidate in python3.13 python3.12 python3; do
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if ok "$path"; then echo "$path"; exit 0; fi
done
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for version in $(ls -1 "$root/versions" 2>/dev/null | sort -rV); do
    path="$root/versions/$version/bin/python3"
    if [ -x "$path" ] && ok "$path"; then echo "$path"; exit 0; fi
  done
fi
echo "painclinic needs Python 3.12 or newer (Django 6). Install python3.13 or python3.12 (or a pyenv version) and run make again." >&2
exit 1
