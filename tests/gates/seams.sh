#!/usr/bin/env bash
# Gate: modules meet only through public headers and named seams
# (docs/architecture.md). Every header under lib/<module>/ is classified
# below; a private one may be included only by its own module's files (white-
# box tests under tests/ may include anything). A new header must be added to
# one of the two lists, so the choice is made on purpose.
#   tests/gates/seams.sh [BUILD_DIR]   (the build directory is not needed)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Private to their module.
PRIVATE="advisor/adv.h cache/cache_internal.h cache/cache_priv.h client/client_internal.h
dashboard/dash.h migration/model.h monitor/monitor_internal.h perftest/pt.h pool/futex.h
pool/pool_priv.h router/router_internal.h sql/sql_priv.h"
# Seams and shared internals: core's helpers, the client's hook tables, the
# pool's interface for the modules layered on it, libpq waits with deadlines,
# the parse-tree layer, the read-your-writes token, perftest's config copy.
SHARED="core/hist.h core/internal.h core/opt.h core/pqconn.h client/seams.h pool/pool_internal.h
pool/pqwait.h sql/scan.h sql/sql_internal.h sql/tree.h router/token.h perftest/seam.h"

cd "$GATE_ROOT"
for f in lib/*/*.h; do
  h=${f#lib/}
  case " $(echo $PRIVATE $SHARED) " in
    *" $h "*) ;;
    *) fail "$f is neither private nor a seam: classify it in tests/gates/seams.sh" ;;
  esac
done
for h in $PRIVATE; do
  [ -f "lib/$h" ] || { fail "lib/$h is listed but does not exist"; continue; }
  mod=${h%%/*}
  users=$(grep -rlE "#include \"($h|$(basename "$h"))\"" lib tools bench examples 2>/dev/null |
          grep -v "^lib/$mod/" || true)
  if [ -n "$users" ]; then
    fail "lib/$h is private to lib/$mod/ but included by: $(echo $users)"
  else
    pass "lib/$h stays in lib/$mod/"
  fi
done
echo "seams: $GATE_PASSES passed, $GATE_FAILS failed"
[ "$GATE_FAILS" -eq 0 ]
