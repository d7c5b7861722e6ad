# Shell helpers shared by the benchmark scripts (sourced).
now() { date +%s.%N; }                       # wall clock, seconds with nanoseconds
calc() { awk "BEGIN { print $1 }"; }         # floating-point arithmetic: calc "$a / $b"
# The median of the arguments (numbers).
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# Seconds a command takes (its output discarded).
timed() { local t0 t1; t0=$(now); "$@" >/dev/null; t1=$(now); calc "$t1 - $t0"; }

# The siphon binary to measure: $1 when given, else this tree's release build (built now).
siphon_binary() {
  if [ -n "${1:-}" ]; then echo "$1"; return; fi
  cargo build --release -p siphon-cli --quiet >&2 || return 1
  echo "$CARGO_TARGET_DIR/release/siphon"
}

# The streaming benchmarks (binlog.sh, replication.sh): workloads `big` ($ROWS_BIG rows) and
# `small` ($TXNS_SMALL rows), each consumer's seconds per round in the associative array
# `secs[workload.consumer]`, one consumer the baseline (key BASE_KEY, printed as BASE_LABEL),
# the others siphon into a destination kind (printed as siphon-<kind>).
workload_rows() { [ "$1" = big ] && echo "$ROWS_BIG" || echo "$TXNS_SMALL"; }
consumer_label() { [ "$1" = "$2" ] && echo "$3" || echo "siphon-$1"; }   # consumer BASE_KEY BASE_LABEL
# One round's line: workload consumer round seconds BASE_KEY BASE_LABEL.
round_line() {
  printf '%-9s %-16s %5s  %7.2f  %9.0f\n' "$1" "$(consumer_label "$2" "$5" "$6")" "$3" "$4" \
    "$(calc "$(workload_rows "$1") / $4")"
}
# Per workload and consumer: the median rows/s and its ratio to the baseline's. BASE_KEY BASE_LABEL CONSUMER...
median_report() {
  local base_key=$1 base_label=$2 w c m base rows
  shift 2
  for w in $WORKLOADS; do
    rows=$(workload_rows "$w")
    base=$(median ${secs[$w.$base_key]})
    for c in "$@"; do
      m=$(median ${secs[$w.$c]})
      printf '%-6s %-16s %9.0f rows/s   ratio %.2f\n' "$w" "$(consumer_label "$c" "$base_key" "$base_label")" \
        "$(calc "$rows / $m")" "$(calc "$base / $m")"
    done
  done
}
