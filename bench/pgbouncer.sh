# Sourced by the bench scripts: a throwaway PgBouncer (transaction pooling)
# in front of the rig's primary, database alchdb_test, user postgres.
#
#   pgbouncer_start WORK PORT [EXTRA_INI_LINES]
#       writes WORK/pgbouncer.ini, starts PgBouncer on 127.0.0.1 and a free
#       port, waits until it answers; sets BPORT and BOUNCER (a conninfo)
#   pgbouncer_stop WORK
#
# Needs PG_BIN, PGBOUNCER and RIG_USER (PgBouncer runs as the rig's owner
# when the caller is root, like the servers of tests/services/rig.sh).

pgbouncer_as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u "$RIG_USER" -- "$@"; else "$@"; fi; }

pgbouncer_start() {
  local work=$1 port=$2 extra=${3:-}
  BPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  printf '"postgres" ""\n' > "$work/userlist.txt"
  cat > "$work/pgbouncer.ini" <<EOF
[databases]
alchdb_test = host=127.0.0.1 port=$port dbname=alchdb_test user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BPORT
unix_socket_dir =
auth_type = trust
auth_file = $work/userlist.txt
pool_mode = transaction
default_pool_size = 100
max_client_conn = 2000
ignore_startup_parameters = extra_float_digits,application_name
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
log_connections = 0
log_disconnections = 0
$extra
EOF
  [ "$(id -u)" = 0 ] && chown -R "$RIG_USER" "$work"
  pgbouncer_as_owner "$PGBOUNCER" -d "$work/pgbouncer.ini"
  local _
  for _ in $(seq 1 50); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$BPORT" -d alchdb_test && break
    sleep 0.1
  done
  BOUNCER="host=127.0.0.1 port=$BPORT user=postgres dbname=alchdb_test"
}

pgbouncer_stop() {
  local work=$1
  [ -f "$work/pgbouncer.pid" ] && kill "$(cat "$work/pgbouncer.pid")" 2>/dev/null || true
  sleep 0.2
}
