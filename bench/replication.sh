#!/usr/bin/env bash
# Replication throughput: the same WAL drained by pg_recvlogical (pgoutput, the ceiling of one
# slot), by siphon into the null destination, and by siphon into DuckDB. Two workloads:
#   big:   one transaction inserting ROWS_BIG rows (default 1,000,000)
#   small: TXNS_SMALL single-row transactions (default 50,000)
# Each round generates the workload once; every consumer has its own slot, so all drain exactly
# the same WAL. Prints rows/s per consumer and the ratios to pg_recvlogical, median of ROUNDS.
# siphon is timed from the moment it streams (after connecting and reading the catalog, a one-time
# cost of a few tens of ms) until its checkpoint passes the workload's end; pg_recvlogical is timed
# as a whole process with --endpos.
# Usage: bash bench/replication.sh   (env: ROUNDS=3 ROWS_BIG=1000000 TXNS_SMALL=50000 WORKLOADS="big small")
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
source bench/lib.sh         # timing, medians, the binary, reports
source scripts/pg.sh
ROUNDS=${ROUNDS:-3}; ROWS_BIG=${ROWS_BIG:-1000000}; TXNS_SMALL=${TXNS_SMALL:-50000}; WORKLOADS=${WORKLOADS:-big small}

SIPHON=$(siphon_binary)
BIN=${SIPHON_PG_BIN:-/usr/lib/postgresql/15/bin}
work=$(mktemp -d /tmp/siphon-bench-XXXXXX); chmod 755 "$work"
port=$(free_port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; pg_stop "$work/pg"; rm -rf "$work"; }
trap cleanup EXIT
pg_start "$work/pg" "$port" "fsync = off" "synchronous_commit = off" "max_wal_size = '4GB'" "shared_buffers = '256MB'"
export PGPASSWORD=bench
pg_psql "$work/pg" "$port" postgres -c "ALTER USER postgres PASSWORD 'bench'" -c "CREATE DATABASE bench"
pg_psql "$work/pg" "$port" bench -c "CREATE TABLE t (id bigint PRIMARY KEY, a int, b text, c timestamptz)" \
  -c "CREATE PUBLICATION bench FOR TABLE t"
url="postgres://postgres:\${PGPASSWORD}@127.0.0.1:$port/bench"

lsn_num() { local hi=${1%/*} lo=${1#*/}; echo $(( (16#$hi << 32) | 16#$lo )); }

# siphon pipelines: each first started once on the empty table (creates its slot, commits an empty snapshot).
for kind in null duckdb; do
  mkdir -p "$work/$kind"
  {
    echo "[pipeline]"; echo "name = \"bench-$kind\""; echo "state_dir = \"$work/$kind/state\""
    echo "[source]"; echo "kind = \"postgres\""; echo "url = \"$url\""; echo "slot = \"bench_$kind\""; echo "publication = \"bench\""
    echo "[destination]"; echo "kind = \"$kind\""
    [ "$kind" = duckdb ] && echo "path = \"$work/$kind/replica.duckdb\""
    echo "[flush]"; echo "interval_ms = 1000"
  } >"$work/$kind/siphon.toml"
done
"$BIN/pg_recvlogical" -h 127.0.0.1 -p "$port" -U postgres -d bench --slot bench_recv --create-slot --plugin pgoutput

started_pid=
start_siphon() { # kind; sets started_pid and waits until siphon streams (connect and catalog reads done)
  rm -f "$work/$1/state/status.json"
  "$SIPHON" run --config "$work/$1/siphon.toml" >>"$work/$1/log" 2>&1 &
  started_pid=$!; pids+=("$started_pid")
  until grep -q '"streaming"' "$work/$1/state/status.json" 2>/dev/null; do
    kill -0 "$started_pid" 2>/dev/null || { cat "$work/$1/log" >&2; exit 1; }
    sleep 0.01
  done
}
stop_siphon() {
  kill -TERM "$started_pid"
  while kill -0 "$started_pid" 2>/dev/null; do sleep 0.02; done
}
wait_checkpoint() { # kind target
  local cp
  while :; do
    cp=$(grep -o '"checkpoint_lsn": "[^"]*"' "$work/$1/state/status.json" 2>/dev/null | cut -d'"' -f4 || true)
    if [ -n "$cp" ] && [ "$(lsn_num "$cp")" -gt "$2" ]; then return; fi
    sleep 0.02
  done
}
for kind in null duckdb; do
  start_siphon $kind; stop_siphon
done

pg_psql "$work/pg" "$port" bench -c "CREATE SEQUENCE s CACHE 1000"
echo "INSERT INTO t VALUES (nextval('s'), 1, md5(random()::text), now());" >"$work/insert.sql"
workload() { # big|small -> prints the marker LSN after the workload
  if [ "$1" = big ]; then
    pg_psql "$work/pg" "$port" bench -c "INSERT INTO t SELECT nextval('s'), i % 1000, md5(i::text), now() FROM generate_series(1, $ROWS_BIG) i" >/dev/null
  else
    "$BIN/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres -c 2 -j 2 -t $((TXNS_SMALL / 2)) -f "$work/insert.sql" bench >/dev/null
  fi
  pg_psql "$work/pg" "$port" bench -Atc "SELECT pg_logical_emit_message(true, 'bench', 'end')"
}
drain_recv() { # marker
  "$BIN/pg_recvlogical" -h 127.0.0.1 -p "$port" -U postgres -d bench --slot bench_recv --start --endpos="$1" \
    -o proto_version=1 -o publication_names=bench -f /dev/null
}
drain_siphon() { # kind marker: times from streaming start (after connect and catalog reads) to the marker
  start_siphon "$1"
  local t0; t0=$(now)
  wait_checkpoint "$1" "$(lsn_num "$2")"
  calc "$(now) - $t0"
  stop_siphon
}

printf 'workload  consumer         round  seconds   rows/s\n'
declare -A secs
for w in $WORKLOADS; do
  for r in $(seq 1 "$ROUNDS"); do
    marker=$(workload $w)
    for c in recv null duckdb; do
      if [ $c = recv ]; then s=$(timed drain_recv "$marker"); else drain_siphon $c "$marker" >"$work/t"; s=$(cat "$work/t"); fi
      secs[$w.$c]+="$s "
      round_line $w $c "$r" "$s" recv pg_recvlogical
    done
  done
done

echo
echo "median of $ROUNDS rounds (rows/s; ratio = siphon / pg_recvlogical on the same WAL)"
median_report recv pg_recvlogical recv null duckdb
