#!/usr/bin/env bash
# Small PostgreSQL 15 clusters for the fault suites, each in its own directory
# on 127.0.0.1 and free ports, and the faults done to them. Reuses the rig's
# functions (tests/services/rig.sh). Every wait is bounded.
#
#   cluster.sh create DIR [--netns]   primary node0 + streaming standby node1, both
#                                     copied from a template made once per base directory
#                                     (--netns: node1 runs in a network
#                                     namespace behind a veth pair); writes
#                                     DIR/env (FAULT_NODE0/1 conninfo, ports, hosts)
#   cluster.sh destroy DIR            stop every server, remove the namespace, rm -rf
#   cluster.sh destroy-all BASE       destroy every cluster under BASE (test exit)
#   cluster.sh stop DIR N [MODE]      pg_ctl stop (fast | immediate | smart)
#   cluster.sh kill9 DIR N            SIGKILL the postmaster and its children
#   cluster.sh start DIR N            pg_ctl start (waits until it accepts connections)
#   cluster.sh promote DIR N          pg_ctl promote
#   cluster.sh readonly DIR N on|off  default_transaction_read_only via ALTER SYSTEM + reload
#   cluster.sh detach DIR N           a standby stops streaming (primary_conninfo = '')
#   cluster.sh follow DIR N M         standby N streams from node M
#   cluster.sh rejoin DIR N M         pg_rewind node N from node M, start it as M's standby
#   cluster.sh partition DIR on|off   drop every packet to and from node1's namespace
#                                     (timeouts, not resets)
#   cluster.sh psql DIR N SQL         run SQL on node N, print the answer unaligned
set -euo pipefail

FAULTS_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../services/rig.sh
. "$FAULTS_HERE/../services/rig.sh"

fdie() { echo "cluster: $*" >&2; exit 1; }

node() { echo "$1/node$2"; }
port_of() { cat "$1/node$2.port"; }
host_of() { cat "$1/node$2.host"; }
netns_of() { if [ -n "$1" ] && [ -f "$1/node$2.netns" ]; then cat "$1/node$2.netns"; fi; }

# Run a PostgreSQL program for node N: as the rig's user when root, inside
# the node's namespace when it has one.
as_node() { # dir n cmd...
  local ns
  ns=$(netns_of "$1" "$2")
  shift 2
  local run=("$@")
  [ "$(id -u)" = 0 ] && run=(runuser -u "$RIG_USER" -- "$@")
  if [ -n "$ns" ]; then ip netns exec "$ns" "${run[@]}"; else "${run[@]}"; fi
}

psql_node() { # dir n sql
  "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$(host_of "$1" "$2")" -p "$(port_of "$1" "$2")" \
    -U postgres -d alchdb_test -c "$3"
}

# What pg_rewind and a rewound standby need, on top of the rig's settings:
# full page writes and hint bits in WAL; replication stays asynchronous so
# that a failover can lose acknowledged writes, as it does in production.
fault_conf() { # datadir port listen
  pg_conf "$1" "$2"
  cat >> "$1/postgresql.conf" <<CONF
listen_addresses = '$3'
full_page_writes = on
wal_log_hints = on
max_connections = 400
shared_preload_libraries = ''
wal_receiver_status_interval = 1s
CONF
}

# A node's own settings, appended to its postgresql.conf (the last line wins;
# pg_rewind copies the source's file over it, so a rejoin appends them again).
node_conf() { # dir n
  cat >> "$(node "$1" "$2")/postgresql.conf" <<CONF
port = $(port_of "$1" "$2")
unix_socket_directories = '$1'
listen_addresses = '$(cat "$1/node$2.listen")'
CONF
}

start_node() { # dir n
  local d
  d=$(node "$1" "$2")
  as_node "$1" "$2" "$PG_BIN/pg_ctl" -D "$d" -l "$1/node$2.log" -w -t 60 start >/dev/null \
    || { tail -n 30 "$1/node$2.log" >&2; fdie "node$2 did not start"; }
  local i
  for i in $(seq 1 300); do
    "$PG_BIN/pg_isready" -q -h "$(host_of "$1" "$2")" -p "$(port_of "$1" "$2")" && return 0
    sleep 0.1
  done
  fdie "node$2 does not accept connections"
}

runuser_or_self() { as_node "" "" "$@"; }

postmaster_pid() { # dir n
  local f
  f="$(node "$1" "$2")/postmaster.pid"
  [ -f "$f" ] && head -n 1 "$f" || true
}

# Namespace + veth for node1 of a cluster: 10.213.X.1 on this side, .2 inside.
make_netns() { # dir
  [ "$(id -u)" = 0 ] || fdie "--netns needs root (ip netns)"
  local tag=$(( ($$ + RANDOM) % 60000 )) x
  x=$(( tag % 250 + 1 ))
  local ns="alchdbf$tag" vh="alf${tag}h" vn="alf${tag}n"
  ip netns add "$ns"
  echo "$ns" > "$1/netns"
  ip link add "$vh" type veth peer name "$vn"
  ip link set "$vn" netns "$ns"
  ip addr add "10.213.$x.1/30" dev "$vh"
  ip link set "$vh" up
  ip netns exec "$ns" ip addr add "10.213.$x.2/30" dev "$vn"
  ip netns exec "$ns" ip link set "$vn" up
  ip netns exec "$ns" ip link set lo up
  echo "$vn" > "$1/veth"
  echo "10.213.$x.1" > "$1/outside_ip"
  echo "10.213.$x.2" > "$1/inside_ip"
}

# A stopped, cleanly shut down data directory every cluster under BASE starts
# from: node0 is a copy of it, node1 another copy started as its standby (the
# same system identifier and checkpoint, so it streams from there). Copying
# is several times faster than initdb + pg_basebackup.
template() { # base
  local t="$1/template"
  [ -f "$t/ready" ] && return 0
  rm -rf "$t"
  mkdir -p "$t"
  [ "$(id -u)" = 0 ] && chown "$RIG_USER" "$1" "$t"
  local p
  p=$(free_port)
  runuser_or_self "$PG_BIN/initdb" -D "$t/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 \
    >"$t/initdb.log" 2>&1 || { cat "$t/initdb.log" >&2; fdie "initdb failed"; }
  fault_conf "$t/data" "$p" 127.0.0.1
  cat > "$t/data/pg_hba.conf" <<HBA
local all all trust
host all all 127.0.0.1/32 trust
host all all 10.213.0.0/16 trust
host replication all 127.0.0.1/32 trust
host replication all 10.213.0.0/16 trust
HBA
  runuser_or_self "$PG_BIN/pg_ctl" -D "$t/data" -l "$t/log" -w -t 60 start >/dev/null ||
    { tail -n 20 "$t/log" >&2; fdie "template did not start"; }
  "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$p" -U postgres -d postgres -c "CREATE DATABASE alchdb_test" >/dev/null
  runuser_or_self "$PG_BIN/pg_ctl" -D "$t/data" -m fast -w -t 60 stop >/dev/null
  touch "$t/ready"
}

create() { # dir [--netns]
  local dir=$1 use_ns=${2:-}
  [ -x "$PG_BIN/initdb" ] || fdie "PostgreSQL 15 binaries not found in $PG_BIN"
  ensure_rig_user
  template "$(dirname "$dir")"
  mkdir -p "$dir"
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown "$RIG_USER" "$dir"
  local listen0=127.0.0.1 host1=127.0.0.1 up=127.0.0.1
  if [ "$use_ns" = --netns ]; then
    make_netns "$dir"
    up=$(cat "$dir/outside_ip")
    listen0="127.0.0.1,$up"
    host1=$(cat "$dir/inside_ip")
    cp "$dir/netns" "$dir/node1.netns"
  fi
  local p0 p1 t
  t="$(dirname "$dir")/template/data"
  p0=$(free_port)
  p1=$(free_port)
  echo "$p0" > "$dir/node0.port"
  echo 127.0.0.1 > "$dir/node0.host"
  echo "$p1" > "$dir/node1.port"
  echo "$host1" > "$dir/node1.host"
  # Sockets live beside the data directories, not in them: pg_rewind copies
  # every file of the source's data directory and cannot read a socket.
  cp -a "$t" "$dir/node0"
  cp -a "$t" "$dir/node1"
  echo "$listen0" > "$dir/node0.listen"
  echo "$host1" > "$dir/node1.listen"
  node_conf "$dir" 0
  node_conf "$dir" 1
  echo "primary_conninfo = 'host=$up port=$p0 user=postgres application_name=node1'" >> "$dir/node1/postgresql.conf"
  touch "$dir/node1/standby.signal"
  [ "$(id -u)" = 0 ] && chown -R "$RIG_USER" "$dir/node0" "$dir/node1"
  start_node "$dir" 0
  start_node "$dir" 1
  [ "$(psql_node "$dir" 1 'SELECT pg_is_in_recovery()')" = t ] || fdie "node1 is not a standby"
  {
    echo "FAULT_DIR='$dir'"
    echo "FAULT_NODE0='host=127.0.0.1 port=$p0 user=postgres dbname=alchdb_test'"
    echo "FAULT_NODE1='host=$host1 port=$p1 user=postgres dbname=alchdb_test'"
    echo "FAULT_PORT0=$p0"
    echo "FAULT_PORT1=$p1"
    echo "FAULT_HOST1=$host1"
  } > "$dir/env"
}

destroy() { # dir
  local dir=$1 n pid
  [ -d "$dir" ] || return 0
  for n in 0 1 2; do
    [ -d "$(node "$dir" "$n")" ] || continue
    pid=$(postmaster_pid "$dir" "$n")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      runuser_or_self "$PG_BIN/pg_ctl" -D "$(node "$dir" "$n")" -m immediate -w -t 20 stop >/dev/null 2>&1 ||
        kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  if [ -f "$dir/netns" ]; then
    ip netns del "$(cat "$dir/netns")" 2>/dev/null || true
  fi
  case "$dir" in /tmp/alchdb-faults.*/*) rm -rf "$dir" ;; *) echo "cluster: not removing $dir" >&2 ;; esac
}

kill9() { # dir n
  local pid kids i
  pid=$(postmaster_pid "$1" "$2")
  [ -n "$pid" ] || fdie "node$2 is not running"
  kids=$(ps -o pid= --ppid "$pid" || true)
  # shellcheck disable=SC2086
  kill -KILL "$pid" $kids 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.05
  done
  fdie "node$2 survived SIGKILL"
}

rejoin() { # dir n m: node n becomes a standby of node m
  local dir=$1 n=$2 m=$3 pid
  pid=$(postmaster_pid "$dir" "$n")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    runuser_or_self "$PG_BIN/pg_ctl" -D "$(node "$dir" "$n")" -m fast -w -t 60 stop >/dev/null
  fi
  # A promoted server records its new timeline in pg_control only at its
  # next checkpoint, and pg_rewind reads it from there (as Patroni does,
  # checkpoint first, or pg_rewind sees "the same timeline" and does nothing).
  psql_node "$dir" "$m" "CHECKPOINT" >/dev/null
  local src="host=$(host_of "$dir" "$m") port=$(port_of "$dir" "$m") user=postgres dbname=postgres"
  as_node "$dir" "$n" "$PG_BIN/pg_rewind" -D "$(node "$dir" "$n")" --source-server="$src" -R \
    >"$dir/rewind$n.log" 2>&1 || { cat "$dir/rewind$n.log" >&2; fdie "pg_rewind of node$n failed"; }
  node_conf "$dir" "$n"
  start_node "$dir" "$n"
}

partition() { # dir on|off
  local dir=$1 ns vn
  [ -f "$dir/netns" ] || fdie "partition: the cluster has no namespace (create --netns)"
  ns=$(cat "$dir/netns")
  vn=$(cat "$dir/veth")
  case "$2" in
    on) ip netns exec "$ns" ip link set "$vn" down ;;
    off) ip netns exec "$ns" ip link set "$vn" up ;;
    *) fdie "partition: on|off" ;;
  esac
}

[ "${BASH_SOURCE[0]}" = "$0" ] || return 0
cmd=${1:-}
shift || true
case "$cmd" in
  create) create "$@" ;;
  destroy) destroy "$1" ;;
  destroy-all)
    for d in "$1"/*/; do if [ -f "$d/node0.port" ]; then destroy "${d%/}"; fi; done
    case "$1" in /tmp/alchdb-faults.*) rm -rf "$1" ;; esac ;;
  stop) runuser_or_self "$PG_BIN/pg_ctl" -D "$(node "$1" "$2")" -m "${3:-fast}" -w -t 60 stop >/dev/null ;;
  kill9) kill9 "$1" "$2" ;;
  start) start_node "$1" "$2" ;;
  promote) runuser_or_self "$PG_BIN/pg_ctl" -D "$(node "$1" "$2")" -w -t 60 promote >/dev/null ;;
  readonly)
    psql_node "$1" "$2" "ALTER SYSTEM SET default_transaction_read_only = $3" >/dev/null
    psql_node "$1" "$2" "SELECT pg_reload_conf()" >/dev/null ;;
  detach)
    psql_node "$1" "$2" "ALTER SYSTEM SET primary_conninfo = ''" >/dev/null
    psql_node "$1" "$2" "SELECT pg_reload_conf()" >/dev/null ;;
  follow)
    psql_node "$1" "$2" "ALTER SYSTEM SET primary_conninfo = 'host=$(host_of "$1" "$3") port=$(port_of "$1" "$3") user=postgres'" >/dev/null
    psql_node "$1" "$2" "SELECT pg_reload_conf()" >/dev/null ;;
  rejoin) rejoin "$1" "$2" "$3" ;;
  partition) partition "$1" "$2" ;;
  psql) psql_node "$1" "$2" "$3" ;;
  *) sed -n '2,24p' "$0" >&2; exit 2 ;;
esac
