#!/usr/bin/env bash
# Snapshot copy A/B of siphon binaries (bench/snapshot.sh's table and settings, one cluster):
# per round and binary, the wall seconds to `backfill.finished` and the CPU seconds of the
# siphon process (user + sys, all threads; less noisy than wall time on a shared machine);
# then, with VG_ROWS > 0, the instructions each binary executes for a VG_ROWS-row copy
# (valgrind's cachegrind: hardware counters are not available on every machine), and with
# PERF=1 a `perf record` profile of each (cpu-clock) in /tmp/perf.<binary>.data.
# Usage: bash bench/snapshot_cpu.sh BIN...   (env: ROUNDS=3 ROWS=10000000 CONNS=4
#        CHUNK_ROWS=100000 VG_ROWS=0 PERF= KIND=null|duckdb)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh >/dev/null
source scripts/pg.sh
ROUNDS=${ROUNDS:-3}; ROWS=${ROWS:-10000000}; CONNS=${CONNS:-4}; CHUNK_ROWS=${CHUNK_ROWS:-100000}; VG_ROWS=${VG_ROWS:-0}
work=$(mktemp -d /tmp/siphon-ab-XXXXXX); chmod 755 "$work"
port=$(free_port)
cleanup() { pg_stop "$work/pg"; rm -rf "$work"; }
trap cleanup EXIT
pg_start "$work/pg" "$port" "fsync = off" "synchronous_commit = off" "max_wal_size = '4GB'" "shared_buffers = '1GB'" \
  "max_replication_slots = 40" "max_connections = 100"
export PGPASSWORD=bench
pg_psql "$work/pg" "$port" postgres -c "ALTER USER postgres PASSWORD 'bench'" -c "CREATE DATABASE bench" -c "CREATE DATABASE small" >/dev/null
load() { pg_psql "$work/pg" "$port" "$1" -c "CREATE TABLE t (id bigint PRIMARY KEY, a int, b text, c timestamptz)" \
  -c "INSERT INTO t SELECT i, i % 1000, md5(i::text), '2026-01-01'::timestamptz + i * interval '1 second' FROM generate_series(1, $2) i" \
  -c "VACUUM ANALYZE t" -c "CREATE PUBLICATION bench FOR TABLE t" >/dev/null; }
load bench "$ROWS"
[ "$VG_ROWS" -gt 0 ] && load small "$VG_ROWS"
n=0
config() { # dir db slot
  {
    echo "[pipeline]"; echo "name = \"ab\""; echo "state_dir = \"$1/state\""
    echo "[source]"; echo "kind = \"postgres\""; echo "url = \"postgres://postgres:\${PGPASSWORD}@127.0.0.1:$port/$2\""; echo "slot = \"$3\""; echo "publication = \"bench\""
    echo "[destination]"; echo "kind = \"${KIND:-null}\""; [ "${KIND:-null}" = duckdb ] && echo "path = \"$1/replica.duckdb\""
    echo "[snapshot]"; echo "parallel_tables = 1"; echo "connections_per_table = $CONNS"; echo "chunk_rows = $CHUNK_ROWS"
    echo "[control]"; echo "listen = \"127.0.0.1:0\""
  } >"$1/siphon.toml"
}
run() { # bin db wrapper... -> prints "wall cpu"
  local bin=$1 db=$2; shift 2
  n=$((n + 1)); local dir="$work/r$n" slot="ab_$n" t0 pid
  mkdir -p "$dir"; config "$dir" "$db" "$slot"
  t0=$(date +%s.%N)
  "$@" "$bin" run --config "$dir/siphon.toml" >"$dir/log" 2>&1 &
  pid=$!
  until grep -q '"backfill.finished"' "$dir/state/events.jsonl" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$dir/log" >&2; exit 1; }
    sleep 0.02
  done
  local wall; wall=$(awk "BEGIN { print $(date +%s.%N) - $t0 }")
  local target=$pid
  if [ $# -gt 0 ]; then target=$(pgrep -P "$pid" | head -1 || true); [ -n "$target" ] || target=$pid; fi
  local cpu; cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$target/stat")
  kill -TERM "$target"; while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  pg_psql "$work/pg" "$port" "$db" -c "SELECT pg_drop_replication_slot('$slot')" >/dev/null
  echo "$wall $cpu $dir"
}
printf '%-40s round   wall_s   cpu_s\n' binary
for r in $(seq 1 "$ROUNDS"); do
  for b in "$@"; do
    read -r wall cpu dir < <(run "$b" bench)
    printf '%-40s %5s  %7.2f  %6.2f\n' "$b" "$r" "$wall" "$cpu"; rm -rf "$dir"
  done
done
if [ -n "${PERF:-}" ]; then
  for b in "$@"; do
    pd="/tmp/perf.$(basename "$b").data"
    read -r wall cpu dir < <(run "$b" bench perf record -e cpu-clock -F 1999 -o "$pd" --)
    sleep 1
    printf '%-40s perf wall %s cpu %s -> %s\n' "$b" "$wall" "$cpu" "$pd"
    rm -rf "$dir"
  done
fi
if [ "$VG_ROWS" -gt 0 ]; then
  for b in "$@"; do
    n=$((n + 1)); vgout="/tmp/cg.$(basename "$b").$n"
    read -r wall cpu dir < <(run "$b" small valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$vgout")
    sleep 1
    printf '%-40s instructions (%s rows): %s\n' "$b" "$VG_ROWS" "$(grep -E '^summary:' "$vgout" | awk '{print $2}')"
    rm -rf "$dir"
  done
fi
