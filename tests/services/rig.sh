#!/usr/bin/env bash
# The real-server test rig used by the tests, the benches and the demo.
#
#   tests/services/rig.sh run [--] CMD [ARGS...]   start everything, run CMD with the
#                                                  ALCHDB_TEST_* variables exported, tear
#                                                  everything down (also on failure/signal)
#   tests/services/rig.sh start                    start and print the env file to source
#   tests/services/rig.sh stop ENVFILE             tear down a rig made by `start`
#   tests/services/rig.sh pgctl primary|replica|replica2 stop|start|restart [MODE]
#                                                  control a server of a running rig
#                                                  (reads ALCHDB_TEST_* from the environment)
#   tests/services/rig.sh redisctl stop|kill|start|restart|pause|resume|save|forget
#                                                  control the rig's redis-server: stop is
#                                                  SHUTDOWN NOSAVE (data lost, like a crash
#                                                  without persistence), kill is SIGKILL,
#                                                  pause/resume are SIGSTOP/SIGCONT, save
#                                                  writes a snapshot that every later start
#                                                  loads (a restart from an older state)
#                                                  until forget deletes it (reads
#                                                  ALCHDB_TEST_REDIS_PORT and ALCHDB_TEST_RIG_DIR)
#   tests/services/rig.sh sentinel start|stop DIR|failover DIR
#                                                  a Redis Sentinel group of its own (only
#                                                  when asked): a master, a replica and two
#                                                  sentinels (requirepass) in a new directory
#                                                  under the rig's (or /tmp); start prints
#                                                  the ALCHDB_TEST_SENTINEL* lines to eval,
#                                                  failover runs SENTINEL FAILOVER and waits
#                                                  until both sentinels name the new master
#                                                  (printed). ALCHDB_RIG_SENTINEL=1 makes
#                                                  `run`/`start` start one and export them.
#
# Starts on 127.0.0.1 and free ports, in a temporary directory: a PostgreSQL 15
# primary (initdb), ALCHDB_RIG_REPLICAS streaming replicas of it (pg_basebackup -R,
# default 1) and a redis-server. PostgreSQL refuses to run as root, so as root the
# servers run as the unprivileged user alchdbrig (created if missing).
#
# Exports: ALCHDB_TEST_PRIMARY, ALCHDB_TEST_REPLICA[, ALCHDB_TEST_REPLICA2] (libpq
# conninfo), ALCHDB_TEST_REDIS (host:port), ALCHDB_TEST_PASSWORD_USER/_PASSWORD (a
# role that must authenticate with scram), ALCHDB_TEST_RIG_DIR, ALCHDB_TEST_PG_BIN.
set -euo pipefail

PG_BIN=${ALCHDB_PG_BIN:-/usr/lib/postgresql/15/bin}
RIG_USER=alchdbrig
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { echo "rig: $*" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$RIG_USER" -- "$@"; else "$@"; fi
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

wait_pg() { # port
  for _ in $(seq 1 300); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1" && return 0
    sleep 0.1
  done
  return 1
}

# wait_pg_ready PORT TENTHS: until the server accepts connections (not just
# "starting": a standby must have reached a consistent state).
wait_pg_ready() {
  local i
  for i in $(seq 1 "$2"); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1" && return 0
    sleep 0.1
  done
  return 1
}

pg_conf() { # datadir port
  cat >> "$1/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $2
unix_socket_directories = '$1'
max_connections = 300
shared_buffers = 128MB
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
hot_standby_feedback = on
wal_keep_size = 256MB
fsync = off
full_page_writes = off
synchronous_commit = on
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
track_io_timing = on
logging_collector = off
log_min_messages = warning
CONF
}

# start_redis PORT DIR: redis-server on 127.0.0.1:PORT with its pid file, log
# and (never saved) data in DIR; waits until it answers PING.
start_redis() {
  redis-server --bind 127.0.0.1 --port "$1" --save '' --appendonly no \
    --daemonize yes --pidfile "$2/redis.pid" --dir "$2" \
    --logfile "$2/redis.log" >/dev/null
  for _ in $(seq 1 100); do
    redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.05
  done
  redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG
}

# As root, PostgreSQL runs as the unprivileged RIG_USER (created if missing).
ensure_rig_user() {
  if [ "$(id -u)" = 0 ] && ! id "$RIG_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$RIG_USER"
  fi
  return 0
}

start_rig() {
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 binaries not found in $PG_BIN (apt-get install postgresql-15)"
  command -v redis-server >/dev/null || die "redis-server not found (apt-get install redis-server)"
  command -v python3 >/dev/null || die "python3 not found (apt-get install python3)"
  ensure_rig_user
  local dir
  dir=$(mktemp -d /tmp/alchdb-rig.XXXXXX)
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown "$RIG_USER" "$dir"
  local pport rport
  pport=$(free_port)
  as_owner "$PG_BIN/initdb" -D "$dir/primary" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  pg_conf "$dir/primary" "$pport"
  cat > "$dir/primary/pg_hba.conf" <<HBA
local all all trust
host all alchdb_pw 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
HBA
  as_owner "$PG_BIN/pg_ctl" -D "$dir/primary" -l "$dir/primary.log" -w -t 60 start >/dev/null \
    || { cat "$dir/primary.log" >&2; die "primary did not start"; }
  wait_pg "$pport" || die "primary not answering"
  local psql=("$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pport" -U postgres)
  "${psql[@]}" -d postgres -c "CREATE DATABASE alchdb_test" \
    -c "CREATE ROLE alchdb_pw LOGIN PASSWORD 'rig-secret-pw'" >/dev/null
  "${psql[@]}" -d alchdb_test -c "CREATE EXTENSION pg_stat_statements" >/dev/null
  if [ -f "$PG_BIN/../lib/hypopg.so" ] || [ -f "/usr/lib/postgresql/15/lib/hypopg.so" ]; then
    "${psql[@]}" -d alchdb_test -c "CREATE EXTENSION hypopg" >/dev/null || true
  fi

  local env="$dir/env"
  {
    echo "export ALCHDB_TEST_RIG_DIR='$dir'"
    echo "export ALCHDB_TEST_PG_BIN='$PG_BIN'"
    echo "export ALCHDB_TEST_PRIMARY='host=127.0.0.1 port=$pport user=postgres dbname=alchdb_test'"
    echo "export ALCHDB_TEST_PRIMARY_PORT=$pport"
    echo "export ALCHDB_TEST_PASSWORD_USER=alchdb_pw"
    echo "export ALCHDB_TEST_PASSWORD=rig-secret-pw"
  } > "$env"

  local n=${ALCHDB_RIG_REPLICAS:-1} i name var
  for i in $(seq 1 "$n"); do
    name=replica; var=ALCHDB_TEST_REPLICA
    [ "$i" -gt 1 ] && { name="replica$i"; var="ALCHDB_TEST_REPLICA$i"; }
    rport=$(free_port)
    as_owner "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$pport" -U postgres -D "$dir/$name" -R -X stream -c fast >"$dir/$name.basebackup.log" 2>&1 \
      || { cat "$dir/$name.basebackup.log" >&2; die "pg_basebackup for $name failed"; }
    cat >> "$dir/$name/postgresql.conf" <<CONF
port = $rport
unix_socket_directories = '$dir/$name'
CONF
    as_owner "$PG_BIN/pg_ctl" -D "$dir/$name" -l "$dir/$name.log" -w -t 60 start >/dev/null \
      || { cat "$dir/$name.log" >&2; die "$name did not start"; }
    wait_pg "$rport" || die "$name not answering"
    [ "$("$PG_BIN/psql" -X -At -h 127.0.0.1 -p "$rport" -U postgres -d alchdb_test -c 'select pg_is_in_recovery()')" = t ] \
      || die "$name is not in recovery"
    echo "export ${var}='host=127.0.0.1 port=$rport user=postgres dbname=alchdb_test'" >> "$env"
    echo "export ${var}_PORT=$rport" >> "$env"
  done

  local redis_port
  redis_port=$(free_port)
  mkdir -p "$dir/redis"
  start_redis "$redis_port" "$dir/redis" || die "redis did not start"
  echo "export ALCHDB_TEST_REDIS='127.0.0.1:$redis_port'" >> "$env"
  echo "export ALCHDB_TEST_REDIS_PORT=$redis_port" >> "$env"
  echo "export ALCHDB_TEST_REDIS_PIDFILE='$dir/redis/redis.pid'" >> "$env"
  if [ "${ALCHDB_RIG_SENTINEL:-0}" = 1 ]; then
    ALCHDB_TEST_RIG_DIR=$dir sentinel_start >> "$env" || die "the sentinel group did not start"
  fi
  echo "$env"
}

stop_rig() { # envfile
  local env=$1 dir
  [ -f "$env" ] || return 0
  dir=$(dirname "$env")
  local d
  for d in "$dir"/sentinel.*; do
    [ -d "$d" ] && sentinel_stop "$d"
  done
  for d in "$dir"/primary "$dir"/replica*; do
    [ -f "$d/postmaster.pid" ] && as_owner "$PG_BIN/pg_ctl" -D "$d" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  done
  if [ -f "$dir/redis/redis.pid" ]; then
    local rpid
    rpid=$(cat "$dir/redis/redis.pid")
    kill -CONT "$rpid" 2>/dev/null || true
    kill "$rpid" 2>/dev/null || true
    # A redis-server on its way out still writes its log and removes its pid
    # file: removing the directory under it fails ("Directory not empty").
    for _ in $(seq 1 100); do kill -0 "$rpid" 2>/dev/null || break; sleep 0.05; done
  fi
  case "$dir" in /tmp/alchdb-rig.*) rm -rf "$dir" ;; esac
}

pgctl() { # which action [mode]
  local which=$1 action=$2 mode=${3:-fast}
  [ -n "${ALCHDB_TEST_RIG_DIR:-}" ] || die "pgctl: ALCHDB_TEST_RIG_DIR not set (no rig running)"
  local d="$ALCHDB_TEST_RIG_DIR/$which"
  [ -d "$d" ] || die "pgctl: no server '$which' in $ALCHDB_TEST_RIG_DIR"
  case "$action" in
    stop) as_owner "$PG_BIN/pg_ctl" -D "$d" -m "$mode" -w -t 60 stop >/dev/null ;;
    start)
      # Right after an immediate stop the old postmaster may still be exiting,
      # and a standby only counts as started once it reached a consistent
      # state (slow on a loaded machine): retry, then accept a postmaster that
      # is running and answers within a minute.
      if ! as_owner "$PG_BIN/pg_ctl" -D "$d" -l "$ALCHDB_TEST_RIG_DIR/$which.log" -w -t 60 start >/dev/null 2>&1; then
        sleep 1
        as_owner "$PG_BIN/pg_ctl" -D "$d" status >/dev/null 2>&1 ||
          as_owner "$PG_BIN/pg_ctl" -D "$d" -l "$ALCHDB_TEST_RIG_DIR/$which.log" -w -t 60 start >/dev/null 2>&1 || true
        local port
        port=$(sed -n "s/^port = \([0-9]*\)$/\1/p" "$d/postgresql.conf" | tail -n 1)
        wait_pg_ready "$port" 600 || {
          tail -n 30 "$ALCHDB_TEST_RIG_DIR/$which.log" >&2
          die "pgctl: $which did not start"
        }
      fi ;;
    restart) as_owner "$PG_BIN/pg_ctl" -D "$d" -l "$ALCHDB_TEST_RIG_DIR/$which.log" -m "$mode" -w -t 60 restart >/dev/null ;;
    promote) as_owner "$PG_BIN/pg_ctl" -D "$d" -w -t 60 promote >/dev/null ;;
    *) die "pgctl: unknown action $action" ;;
  esac
}

# The pid of the rig's running redis-server, or nothing.
redis_pid() { # dir
  local pid
  pid=$(cat "$1/redis.pid" 2>/dev/null) || return 0
  kill -0 "$pid" 2>/dev/null && echo "$pid"
  return 0
}

# stop_redis DIR PORT: SHUTDOWN NOSAVE (woken first: a stopped process cannot
# shut down), SIGKILL if it is still there after 5 s.
stop_redis() {
  local pid
  pid=$(redis_pid "$1")
  [ -n "$pid" ] || return 0
  kill -CONT "$pid" 2>/dev/null || true
  redis-cli -h 127.0.0.1 -p "$2" shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; sleep 0.1; fi
  rm -f "$1/redis.pid"
}

# Like start_rig, redis-server runs as the invoking user (its directory is
# not handed to alchdbrig).
redisctl() { # action
  if [ -z "${ALCHDB_TEST_RIG_DIR:-}" ] || [ -z "${ALCHDB_TEST_REDIS_PORT:-}" ]; then
    die "redisctl: ALCHDB_TEST_RIG_DIR/ALCHDB_TEST_REDIS_PORT not set (no rig running)"
  fi
  local d="$ALCHDB_TEST_RIG_DIR/redis" port=$ALCHDB_TEST_REDIS_PORT pid
  [ -d "$d" ] || die "redisctl: no redis in $ALCHDB_TEST_RIG_DIR"
  case "$1" in
    stop) stop_redis "$d" "$port" ;;
    kill)
      pid=$(redis_pid "$d")
      [ -n "$pid" ] || die "redisctl: redis is not running"
      kill -KILL "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      rm -f "$d/redis.pid" ;;
    start)
      [ -n "$(redis_pid "$d")" ] && return 0
      start_redis "$port" "$d" || { tail -n 20 "$d/redis.log" >&2; die "redisctl: redis did not start"; } ;;
    restart)
      stop_redis "$d" "$port"
      start_redis "$port" "$d" || { tail -n 20 "$d/redis.log" >&2; die "redisctl: redis did not start"; } ;;
    pause|resume)
      pid=$(redis_pid "$d")
      [ -n "$pid" ] || die "redisctl: redis is not running"
      if [ "$1" = pause ]; then kill -STOP "$pid"; else kill -CONT "$pid"; fi ;;
    save) redis-cli -h 127.0.0.1 -p "$port" save | grep -q OK || die "redisctl: SAVE failed"; [ -f "$d/dump.rdb" ] ;;
    forget) rm -f "$d/dump.rdb" ;;
    *) die "redisctl: unknown action $1" ;;
  esac
}

# ---- Redis Sentinel group (rig.sh sentinel ...) --------------------------------

SENTINEL_MASTER=alchdbrig
SENTINEL_PASSWORD=rig-sentinel-pw

# sentinel_cli PORT ARGS...: a command to the sentinel on PORT.
sentinel_cli() {
  local port=$1; shift
  REDISCLI_AUTH=$SENTINEL_PASSWORD redis-cli --no-auth-warning -h 127.0.0.1 -p "$port" "$@" 2>/dev/null
}

# The master's port as the sentinel on PORT names it (empty if none).
sentinel_master_port() {
  sentinel_cli "$1" sentinel get-master-addr-by-name "$SENTINEL_MASTER" | sed -n 2p
}

# Replicas the sentinel on PORT knows in good health (flags exactly "slave").
sentinel_good_replicas() {
  sentinel_cli "$1" sentinel replicas "$SENTINEL_MASTER" | awk 'prev == "flags" && $0 == "slave" { n++ } { prev = $0 } END { print n + 0 }'
}

sentinel_start() {
  command -v redis-sentinel >/dev/null || die "redis-sentinel not found (apt-get install redis-sentinel)"
  local parent=${ALCHDB_TEST_RIG_DIR:-/tmp} dir m r s1 s2 i
  dir=$(mktemp -d "$parent/sentinel.XXXXXX")
  m=$(free_port); r=$(free_port)
  mkdir -p "$dir/r$m" "$dir/r$r"
  start_redis "$m" "$dir/r$m" || die "sentinel: master redis did not start"
  start_redis "$r" "$dir/r$r" || die "sentinel: replica redis did not start"
  # A full sync waits repl-diskless-sync-delay (5 s) for more replicas to
  # join; either server may be master after a failover.
  for p in "$m" "$r"; do
    redis-cli -h 127.0.0.1 -p "$p" config set repl-diskless-sync-delay 0 | grep -q OK || die "sentinel: CONFIG SET failed"
  done
  redis-cli -h 127.0.0.1 -p "$r" replicaof 127.0.0.1 "$m" | grep -q OK || die "sentinel: REPLICAOF failed"
  for i in $(seq 1 200); do
    redis-cli -h 127.0.0.1 -p "$r" info replication 2>/dev/null | grep -q '^master_link_status:up' && break
    [ "$i" = 200 ] && die "sentinel: the replica did not sync"
    sleep 0.05
  done
  for i in 1 2; do
    local p
    p=$(free_port)
    [ "$i" = 1 ] && s1=$p || s2=$p
    cat > "$dir/s$p.conf" <<CONF
bind 127.0.0.1
port $p
daemonize yes
pidfile $dir/s$p.pid
logfile $dir/s$p.log
dir $dir
requirepass $SENTINEL_PASSWORD
sentinel monitor $SENTINEL_MASTER 127.0.0.1 $m 1
sentinel down-after-milliseconds $SENTINEL_MASTER 5000
sentinel failover-timeout $SENTINEL_MASTER 10000
CONF
    redis-sentinel "$dir/s$p.conf" >/dev/null || die "sentinel: redis-sentinel did not start"
  done
  # Sentinel polls INFO every 10 s by default: learning of the replica and
  # demoting the old master after a failover would take that long. Redis 7's
  # SENTINEL DEBUG shortens the periods (a test rig, not a production setting).
  for p in "$s1" "$s2"; do
    for i in $(seq 1 100); do
      sentinel_cli "$p" sentinel debug info-period 250 publish-period 250 | grep -q OK && break
      [ "$i" = 100 ] && die "sentinel: SENTINEL DEBUG refused"
      sleep 0.05
    done
  done
  # Ready when the replica is in sync and both sentinels know it as healthy
  # (a failover needs a good replica).
  for i in $(seq 1 400); do
    if redis-cli -h 127.0.0.1 -p "$r" info replication 2>/dev/null | grep -q '^master_link_status:up' &&
       [ "$(sentinel_good_replicas "$s1")" -ge 1 ] && [ "$(sentinel_good_replicas "$s2")" -ge 1 ]; then
      echo "export ALCHDB_TEST_SENTINEL_DIR='$dir'"
      echo "export ALCHDB_TEST_SENTINELS='127.0.0.1:$s1,127.0.0.1:$s2'"
      echo "export ALCHDB_TEST_SENTINEL_MASTER='$SENTINEL_MASTER'"
      echo "export ALCHDB_TEST_SENTINEL_PASSWORD='$SENTINEL_PASSWORD'"
      echo "export ALCHDB_TEST_SENTINEL_REDIS='127.0.0.1:$m,127.0.0.1:$r'"
      return 0
    fi
    sleep 0.05
  done
  tail -n 20 "$dir"/s*.log >&2
  sentinel_stop "$dir"
  die "sentinel: the group did not come up"
}

sentinel_stop() { # dir
  local dir=$1 f pid
  case "$dir" in */sentinel.*) ;; *) die "sentinel stop: not a sentinel directory: $dir" ;; esac
  [ -d "$dir" ] || return 0
  for f in "$dir"/s*.pid "$dir"/r*/redis.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null) || continue
    kill -CONT "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
}

# SENTINEL FAILOVER (retried while the sentinel has no good replica yet), then
# wait until both sentinels name a new master that answers ROLE as master and
# the old one follows it.
sentinel_failover() { # dir
  local dir=$1 ports old new i
  ports=$(sed -n 's/^port //p' "$dir"/s*.conf)
  local first
  first=$(echo "$ports" | head -n 1)
  old=$(sentinel_master_port "$first")
  [ -n "$old" ] || die "sentinel failover: no master known"
  for i in $(seq 1 200); do
    sentinel_cli "$first" sentinel failover "$SENTINEL_MASTER" | grep -q OK && break
    [ "$i" = 200 ] && die "sentinel failover: SENTINEL FAILOVER refused"
    sleep 0.1
  done
  for i in $(seq 1 600); do
    new=$(sentinel_master_port "$first")
    local all=1 p
    for p in $ports; do [ "$(sentinel_master_port "$p")" = "$new" ] || all=0; done
    if [ "$all" = 1 ] && [ "$new" != "$old" ] &&
       redis-cli -h 127.0.0.1 -p "$new" role 2>/dev/null | head -n 1 | grep -qx master &&
       redis-cli -h 127.0.0.1 -p "$old" role 2>/dev/null | head -n 1 | grep -qx slave; then
      echo "127.0.0.1:$new"
      return 0
    fi
    sleep 0.05
  done
  tail -n 20 "$dir"/s*.log >&2
  die "sentinel failover: no new master after 30 s"
}

sentinel_cmd() {
  case "${1:-}" in
    start) sentinel_start ;;
    stop) [ $# -eq 2 ] || die "usage: rig.sh sentinel stop DIR"; sentinel_stop "$2" ;;
    failover) [ $# -eq 2 ] || die "usage: rig.sh sentinel failover DIR"; sentinel_failover "$2" ;;
    *) die "usage: rig.sh sentinel start|stop DIR|failover DIR" ;;
  esac
}

# Sourced (by tests/faults/cluster.sh): only the functions above.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

cmd=${1:-}
shift || true
case "$cmd" in
  run)
    [ "${1:-}" = "--" ] && shift
    [ $# -gt 0 ] || die "usage: rig.sh run [--] CMD [ARGS...]"
    ENVFILE=$(start_rig)
    trap 'stop_rig "$ENVFILE"' EXIT
    trap 'exit 130' INT TERM
    # shellcheck disable=SC1090
    . "$ENVFILE"
    echo "rig: primary :$ALCHDB_TEST_PRIMARY_PORT, replica(s) ${ALCHDB_TEST_REPLICA_PORT:-} ${ALCHDB_TEST_REPLICA2_PORT:-}, redis :$ALCHDB_TEST_REDIS_PORT in $ALCHDB_TEST_RIG_DIR" >&2
    set +e
    "$@"
    rc=$?
    set -e
    exit $rc
    ;;
  start) start_rig ;;
  stop) [ $# -eq 1 ] || die "usage: rig.sh stop ENVFILE"; stop_rig "$1" ;;
  pgctl) [ $# -ge 2 ] || die "usage: rig.sh pgctl NAME stop|start|restart|promote [MODE]"; pgctl "$@" ;;
  sentinel) sentinel_cmd "$@" ;;
  redisctl) [ $# -eq 1 ] || die "usage: rig.sh redisctl stop|kill|start|restart|pause|resume|save|forget"; redisctl "$1" ;;
  *) sed -n '2,39p' "$0" >&2; exit 2 ;;
esac
