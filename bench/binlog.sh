#!/usr/bin/env bash
# Binlog (MySQL/MariaDB source) throughput: the same binlog events read by mariadb-binlog
# (--read-from-remote-server, every row event decoded to text, output discarded: the server's
# replication protocol plus a C decoder), by siphon into the null destination, and by siphon
# into DuckDB. Two workloads on a throwaway MariaDB (loopback, durability off):
#   big:   one transaction inserting ROWS_BIG rows (default 1,000,000; from seq_1_to_N)
#   small: TXNS_SMALL single-row autocommit INSERTs through one client session (default 50,000)
# into `t (id bigint PRIMARY KEY, a int, b varchar(64), c datetime(6))`.
# Each round generates the workload once, with every consumer stopped, then a one-row marker
# transaction in a table siphon does not replicate: the end of the marker's commit (SHOW BINLOG
# EVENTS) is the round's end position, and the next round starts there. Each siphon was first
# started once on the empty table (snapshot, checkpoint = the server's position then) and resumes
# at its checkpoint, which is the round's start position (checked), so all consumers decode
# exactly the same events. siphon is timed from the moment it streams (after connecting and
# reading the catalog) until its checkpoint reaches the round's end; mariadb-binlog as a whole
# process between the two positions (every file in between listed when the round spans a rotation).
# Prints rows/s per consumer and the ratios to mariadb-binlog, median of ROUNDS.
# Usage: bash bench/binlog.sh   (env: ROUNDS=3 ROWS_BIG=1000000 TXNS_SMALL=50000 WORKLOADS="big small"
#                               MAX_BINLOG_SIZE=1G, the server's max_binlog_size; SIPHON=binary to skip the build)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
source bench/lib.sh         # timing, medians, the binary, reports
source scripts/pg.sh        # free_port
source scripts/mariadb.sh
ROUNDS=${ROUNDS:-3}; ROWS_BIG=${ROWS_BIG:-1000000}; TXNS_SMALL=${TXNS_SMALL:-50000}; WORKLOADS=${WORKLOADS:-big small}
MAX_BINLOG_SIZE=${MAX_BINLOG_SIZE:-1G}

SIPHON=$(siphon_binary "${SIPHON:-}")   # SIPHON=/path/to/siphon: that binary instead of this tree's release build
work=$(mktemp -d /tmp/siphon-bench-XXXXXX); chmod 755 "$work"
port=$(free_port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; mariadb_stop "$work/db"; rm -rf "$work"; }
trap cleanup EXIT
mariadb_start "$work/db" "$port" --innodb-buffer-pool-size=256M --max-binlog-size="$MAX_BINLOG_SIZE" \
  --binlog-cache-size=1M --max-connections=100
mariadb_sql "$work/db" -e "CREATE DATABASE bench;
  CREATE TABLE bench.t (id bigint PRIMARY KEY, a int, b varchar(64), c datetime(6)) ENGINE=InnoDB;
  CREATE TABLE bench.marker (id int AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB"

# Positions: "file offset" as SHOW MASTER STATUS prints them; as numbers, siphon's Lsn:
# (file sequence << 32) | offset, which status.json prints as `X/Y` hex in checkpoint_lsn.
master_status() { mariadb_sql "$work/db" -e "SHOW MASTER STATUS" | awk '{print $1, $2}'; }
pos_num() { local seq=${1##*.}; echo $(( (10#$seq << 32) | $2 )); }
lsn_num() { local hi=${1%/*} lo=${1#*/}; echo $(( (16#$hi << 32) | 16#$lo )); }
status_field() { # kind field -> the string value of a status.json field (empty if none)
  grep -o "\"$2\": \"[^\"]*\"" "$work/$1/state/status.json" 2>/dev/null | cut -d'"' -f4 || true
}

# siphon pipelines, each with its own state dir and replica server id.
sid=100
for kind in null duckdb; do
  sid=$((sid + 1))
  mkdir -p "$work/$kind"
  {
    echo "[pipeline]"; echo "name = \"bench-$kind\""; echo "state_dir = \"$work/$kind/state\""
    echo "[source]"; echo "kind = \"mysql\""; echo "url = \"mysql://root@127.0.0.1:$port/bench?ssl-mode=DISABLED\""
    echo "tables = [\"bench.t\"]"; echo "server_id = $sid"
    echo "[destination]"; echo "kind = \"$kind\""
    [ "$kind" = duckdb ] && echo "path = \"$work/$kind/replica.duckdb\""
    echo "[flush]"; echo "interval_ms = 1000"
    echo "[control]"; echo "listen = \"127.0.0.1:0\""
  } >"$work/$kind/siphon.toml"
done

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
wait_checkpoint() { # kind target(number): until the checkpoint reaches the target
  local cp
  while :; do
    cp=$(status_field "$1" checkpoint_lsn)
    if [ -n "$cp" ] && [ "$(lsn_num "$cp")" -ge "$2" ]; then return; fi
    kill -0 "$started_pid" 2>/dev/null || { echo "siphon-$1 exited:" >&2; tail -n 30 "$work/$1/log" >&2; exit 1; }
    sleep 0.02
  done
}
# First starts on the empty table: snapshot (nothing), checkpoint = the server's position.
for kind in null duckdb; do
  start_siphon $kind; stop_siphon
done

# The workload's end: the end of a one-row marker transaction written just after it into a table
# siphon does not replicate (every transaction moves siphon's checkpoint to its commit's end, so
# the checkpoint reaches exactly this position). SHOW MASTER STATUS alone is not an end siphon's
# checkpoint reaches: after a rotation (max_binlog_size) it points past the new file's header
# events, and an asynchronous Binlog_checkpoint event may follow the last commit.
mark() { # -> "file end_of_marker_commit" (runs in a subshell: the caller checks the result)
  local fa pa end
  read -r fa pa < <(master_status)
  mariadb_sql "$work/db" -e "INSERT INTO bench.marker VALUES ()"
  end=$(mariadb_sql "$work/db" -e "SHOW BINLOG EVENTS IN '$fa' FROM $pa" | awk -F'\t' '$3 == "Xid" { print $5; exit }')
  [ -n "$end" ] || { echo "no marker commit found in $fa from $pa" >&2; exit 1; }
  echo "$fa $end"
}
next_id=1
workload() { # big|small
  if [ "$1" = big ]; then
    mariadb_sql "$work/db" bench -e "INSERT INTO t SELECT seq + $((next_id - 1)), seq % 1000, md5(seq), now(6) FROM seq_1_to_$ROWS_BIG"
    next_id=$((next_id + ROWS_BIG))
  else
    seq "$next_id" $((next_id + TXNS_SMALL - 1)) \
      | awk '{ printf "INSERT INTO t VALUES (%d, %d, md5(%d), now(6));\n", $1, $1 % 1000, $1 }' \
      | mariadb_sql "$work/db" bench
    next_id=$((next_id + TXNS_SMALL))
  fi
}
drain_binlog() { # start_file start_pos end_file end_pos: every file from the first to the last
  local files
  files=$(mariadb_sql "$work/db" -e "SHOW BINARY LOGS" | awk -v a="$1" -v b="$3" '$1 >= a && $1 <= b {print $1}')
  mariadb-binlog --no-defaults --read-from-remote-server --host=127.0.0.1 --port="$port" --user=root \
    --start-position="$2" --stop-position="$4" -v --base64-output=DECODE-ROWS $files >/dev/null
}
drain_siphon() { # kind start_num end_num -> seconds (stdout)
  start_siphon "$1"
  local t0 cp; t0=$(now)
  cp=$(status_field "$1" checkpoint_lsn)
  if [ "$(lsn_num "$cp")" -ne "$2" ]; then
    echo "siphon-$1 resumed at $cp, not at the workload's start: the timing covers other events" >&2
  fi
  wait_checkpoint "$1" "$3"
  calc "$(now) - $t0"
  applied=$(grep -o '"changes_applied": [0-9]*' "$work/$1/state/status.json" | awk '{print $2}')
  echo "$applied" >"$work/$1/applied"
  stop_siphon
}

read -r f_end p_end < <(mark)   # where the siphons and the first round start
[ -n "$p_end" ] || exit 1
for kind in null duckdb; do     # every consumer at the same position before the first round
  start_siphon $kind; wait_checkpoint $kind "$(pos_num "$f_end" "$p_end")"; stop_siphon
done

printf 'workload  consumer         round  seconds   rows/s\n'
declare -A secs
for w in $WORKLOADS; do
  rows=$(workload_rows $w)
  for r in $(seq 1 "$ROUNDS"); do
    f0=$f_end; p0=$p_end        # the previous marker: where every consumer stopped
    workload $w
    read -r f1 p1 < <(mark)
    [ -n "$p1" ] || exit 1
    f_end=$f1; p_end=$p1
    echo "# $w round $r: binlog $f0:$p0 .. $f1:$p1" >&2
    for c in binlog null duckdb; do
      if [ $c = binlog ]; then
        s=$(timed drain_binlog "$f0" "$p0" "$f1" "$p1")
      else
        drain_siphon $c "$(pos_num "$f0" "$p0")" "$(pos_num "$f1" "$p1")" >"$work/t"; s=$(cat "$work/t")
        a=$(cat "$work/$c/applied")
        [ "$a" = "$rows" ] || echo "# siphon-$c applied $a changes, expected $rows" >&2
      fi
      secs[$w.$c]+="$s "
      round_line $w $c "$r" "$s" binlog mariadb-binlog
    done
  done
done

echo
echo "median of $ROUNDS rounds (rows/s; ratio = consumer / mariadb-binlog on the same binlog events)"
median_report binlog mariadb-binlog binlog null duckdb
