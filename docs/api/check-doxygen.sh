#!/usr/bin/env bash
# Run Doxygen over the public headers and fail when it warns about anything.
#   docs/api/check-doxygen.sh DOXYGEN DOXYFILE WARNINGS_LOG
set -euo pipefail
doxygen=$1 conf=$2 log=$3
command -v "$doxygen" >/dev/null || { echo "doxygen not found (apt-get install doxygen)" >&2; exit 1; }
rm -f "$log"
"$doxygen" "$conf"
if [ -s "$log" ]; then
  echo "doxygen: $(wc -l <"$log") warning line(s):" >&2
  cat "$log" >&2
  exit 1
fi
echo "doxygen: no warnings; HTML in $(dirname "$log")/html"
