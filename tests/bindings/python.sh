#!/usr/bin/env bash
# The Python package as a user gets it: `pip install --no-index` into a
# scratch folder (no network), then its pytest suite against the rig, importing
# the installed copy and loading the library built here through ALCHDB_LIBRARY.
#   tests/bindings/python.sh PYTHON SOURCE_ROOT LIBRARY
set -euo pipefail
py=$1 src=$2 lib=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" -m pip install --no-index --quiet --disable-pip-version-check --no-warn-script-location \
  --target "$tmp/site" "$src/bindings/python" 2>"$tmp/pip.err" || { cat "$tmp/pip.err" >&2; exit 1; }
cd "$tmp"
export ALCHDB_LIBRARY=$lib PYTHONPATH=$tmp/site PYTHONDONTWRITEBYTECODE=1
"$py" -c 'import alchdb, sys; sys.exit(0 if alchdb.__file__.startswith(sys.argv[1]) else "imported " + alchdb.__file__)' "$tmp/site"
exec "$py" -m pytest -q -p no:cacheprovider --rootdir "$src/bindings/python" "$src/bindings/python/tests"
