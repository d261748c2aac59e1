#!/usr/bin/env bash
# Run one fault suite with a base directory of its own for its clusters, and
# tear down every cluster (servers, network namespaces, files) when it ends,
# also on failure or a signal.
#   tests/faults/run.sh BUILD/tests/faults/test_failover [args...]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -ge 1 ] || { echo "usage: tests/faults/run.sh PROGRAM [ARGS...]" >&2; exit 2; }
BASE=$(mktemp -d /tmp/alchdb-faults.XXXXXX)
chmod 755 "$BASE"
export ALCHDB_FAULT_BASE="$BASE" ALCHDB_FAULT_SH="$HERE/cluster.sh"
trap '"$HERE/cluster.sh" destroy-all "$BASE"' EXIT
trap 'exit 130' INT TERM
set +e
"$@"
rc=$?
set -e
exit $rc
