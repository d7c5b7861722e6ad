#!/usr/bin/env bash
# Snapshot throughput: one ROWS-row table (default 10,000,000) copied
#   - by CONNS parallel `COPY (SELECT ... WHERE id range) TO STDOUT` sessions (psql, output
#     discarded): the baseline, what the server can hand out over that many connections;
#   - by siphon's first start into the null destination, over the same number of connections;
#   - by siphon's first start into DuckDB.
# siphon is timed from process start to its `backfill.finished` event (slot creation, planning
# and the copy included); the baseline from the first psql start to the last one's end.
# Prints rows/s, MB/s (of COPY text) and the ratios to the baseline, median of ROUNDS.
# Usage: bash bench/snapshot.sh   (env: ROUNDS=3 ROWS=10000000 CONNS=4 CHUNK_ROWS=100000;
#        SIPHON_BIN=path measures that binary instead of building this tree's)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
source bench/lib.sh         # timing, medians, the binary, reports
source scripts/pg.sh
ROUNDS=${ROUNDS:-3}; ROWS=${ROWS:-10000000}; CONNS=${CONNS:-4}; CHUNK_ROWS=${CHUNK_ROWS:-100000}

SIPHON=$(siphon_binary "${SIPHON_BIN:-}")
work=$(mktemp -d /tmp/siphon-bench-XXXXXX); chmod 755 "$work"
port=$(free_port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; pg_stop "$work/pg"; rm -rf "$work"; }
trap cleanup EXIT
pg_start "$work/pg" "$port" "fsync = off" "synchronous_commit = off" "max_wal_size = '4GB'" "shared_buffers = '1GB'" \
  "max_replication_slots = 40" "max_connections = 100"
export PGPASSWORD=bench
pg_psql "$work/pg" "$port" postgres -c "ALTER USER postgres PASSWORD 'bench'" -c "CREATE DATABASE bench" >/dev/null
echo "loading $ROWS rows..."
pg_psql "$work/pg" "$port" bench -c "CREATE TABLE t (id bigint PRIMARY KEY, a int, b text, c timestamptz)" \
  -c "INSERT INTO t SELECT i, i % 1000, md5(i::text), '2026-01-01'::timestamptz + i * interval '1 second' FROM generate_series(1, $ROWS) i" \
  -c "VACUUM ANALYZE t" -c "CREATE PUBLICATION bench FOR TABLE t" >/dev/null
url="postgres://postgres:\${PGPASSWORD}@127.0.0.1:$port/bench"
bytes=$(pg_psql "$work/pg" "$port" bench -Atc "COPY t TO STDOUT" | wc -c)
echo "COPY text: $bytes bytes"


baseline() {
  local t0 step i lo hi
  t0=$(now); step=$(( (ROWS + CONNS - 1) / CONNS )); local ps=()
  for i in $(seq 0 $((CONNS - 1))); do
    lo=$((i * step + 1)); hi=$(((i + 1) * step + 1))
    psql -h 127.0.0.1 -p "$port" -U postgres -d bench -Atc \
      "COPY (SELECT id, a, b, c FROM t WHERE id >= $lo AND id < $hi) TO STDOUT" >/dev/null &
    ps+=($!)
  done
  wait "${ps[@]}"
  calc "$(now) - $t0"
}

run_siphon() { # kind round -> seconds
  local dir="$work/$1-$2" t0 pid
  mkdir -p "$dir"
  {
    echo "[pipeline]"; echo "name = \"bench-$1\""; echo "state_dir = \"$dir/state\""
    echo "[source]"; echo "kind = \"postgres\""; echo "url = \"$url\""; echo "slot = \"bench_${1}_$2\""; echo "publication = \"bench\""
    echo "[destination]"; echo "kind = \"$1\""
    [ "$1" = duckdb ] && echo "path = \"$dir/replica.duckdb\""
    echo "[snapshot]"; echo "parallel_tables = 1"; echo "connections_per_table = $CONNS"; echo "chunk_rows = $CHUNK_ROWS"
    echo "[control]"; echo "listen = \"127.0.0.1:0\""
  } >"$dir/siphon.toml"
  t0=$(now)
  "$SIPHON" run --config "$dir/siphon.toml" >"$dir/log" 2>&1 &
  pid=$!; pids+=("$pid")
  until grep -q '"backfill.finished"' "$dir/state/events.jsonl" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$dir/log" >&2; exit 1; }
    sleep 0.02
  done
  calc "$(now) - $t0"
  kill -TERM "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  pg_psql "$work/pg" "$port" bench -c "SELECT pg_drop_replication_slot('bench_${1}_$2')" >/dev/null
  rm -rf "$dir"
}

printf 'consumer              round  seconds      rows/s    MB/s\n'
declare -A secs
for r in $(seq 1 "$ROUNDS"); do
  for c in copy null duckdb; do
    if [ $c = copy ]; then s=$(baseline); else s=$(run_siphon $c "$r"); fi
    secs[$c]+="$s "
    printf '%-20s %6s  %7.2f  %10.0f  %6.1f\n' "$c" "$r" "$s" "$(calc "$ROWS / $s")" "$(calc "$bytes / $s / 1048576")"
  done
done

echo
echo "median of $ROUNDS rounds, $ROWS rows, $CONNS connections (ratio = consumer / parallel COPY)"
base=$(median ${secs[copy]})
for c in copy null duckdb; do
  m=$(median ${secs[$c]})
  name=$([ $c = copy ] && echo "parallel COPY" || echo "siphon-$c")
  printf '%-16s %10.0f rows/s  %6.1f MB/s   ratio %.2f\n' "$name" "$(calc "$ROWS / $m")" "$(calc "$bytes / $m / 1048576")" "$(calc "$base / $m")"
done
