#!/usr/bin/env bash
# The demo: a throwaway PostgreSQL with a small shop database, replicated by siphon into a
# DuckDB file while the shop keeps writing; then the replica is shown next to the source.
# Everything lives in ./demo-run (removed and recreated on each run).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
source scripts/pg.sh
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "building siphon"
cargo build -p siphon-cli --quiet
SIPHON="$CARGO_TARGET_DIR/debug/siphon"

run=$PWD/demo-run
rm -rf "$run"; mkdir -p "$run"
port=$(free_port)
trap 'kill $(cat "$run/siphon.pid" 2>/dev/null) 2>/dev/null || true; pg_stop "$run/pg"' EXIT

say "starting a throwaway PostgreSQL on 127.0.0.1:$port (wal_level=logical)"
pg_start "$run/pg" "$port"
export SIPHON_DEMO_PASSWORD="demo-$RANDOM-secret"
pg_psql "$run/pg" "$port" postgres -c "ALTER USER postgres PASSWORD '$SIPHON_DEMO_PASSWORD'" -c "CREATE DATABASE shop"
pg_psql "$run/pg" "$port" shop <<'SQL'
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, tags text[], created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, amount numeric(12,2) NOT NULL,
                     status text NOT NULL, details jsonb, placed_at timestamptz NOT NULL DEFAULT now());
INSERT INTO customers SELECT i, 'customer ' || i, 'c' || i || '@example.com', ARRAY['tier-' || (i % 3)], now() - i * interval '1 hour'
  FROM generate_series(1, 1000) i;
INSERT INTO orders SELECT i, 1 + i % 1000, round((random() * 500)::numeric, 2), 'placed', jsonb_build_object('items', 1 + i % 5)
  FROM generate_series(1, 20000) i;
SQL
echo "source: 1000 customers, 20000 orders"

cat >"$run/siphon.toml" <<TOML
[pipeline]
name = "demo"
state_dir = "$run/state"

[source]
kind = "postgres"
url = "postgres://postgres:\${SIPHON_DEMO_PASSWORD}@127.0.0.1:$port/shop"
tables = ["public.customers", "public.orders"]

[destination]
kind = "duckdb"
path = "$run/replica.duckdb"

[flush]
interval_ms = 500

[control]
listen = "127.0.0.1:0"   # any free port; siphon query finds it in state_dir/control.json
TOML

say "siphon run (snapshot, then streaming); log in demo-run/siphon.log"
"$SIPHON" run --config "$run/siphon.toml" >"$run/siphon.log" 2>&1 &
echo $! >"$run/siphon.pid"
until grep -q '"streaming"' "$run/state/status.json" 2>/dev/null; do
  kill -0 "$(cat "$run/siphon.pid")" 2>/dev/null || { cat "$run/siphon.log"; exit 1; }
  sleep 0.2
done
"$SIPHON" status --config "$run/siphon.toml"

say "live changes while siphon streams: new orders, status updates, a cancellation wave, a customer id change"
for round in $(seq 1 10); do
  pg_psql "$run/pg" "$port" shop <<SQL
BEGIN;
INSERT INTO orders SELECT 20000 + ($round - 1) * 100 + i, 1 + (i * 7) % 1000, round((random() * 500)::numeric, 2), 'placed', '{"items": 2}'
  FROM generate_series(1, 100) i;
UPDATE orders SET status = 'shipped' WHERE id % 10 = $round % 10 AND status = 'placed';
DELETE FROM orders WHERE id % 97 = $round;
COMMIT;
SQL
  sleep 0.3
done
pg_psql "$run/pg" "$port" shop -c "INSERT INTO customers VALUES (5000, 'renamed soon', NULL, '{}', now()); UPDATE customers SET id = 5001, name = 'renamed' WHERE id = 5000;"
marker=$(pg_psql "$run/pg" "$port" shop -Atc "SELECT pg_logical_emit_message(true, 'siphon-demo', 'sync')")

say "waiting until the replica has applied everything up to $marker"
lsn_num() { local hi=${1%/*} lo=${1#*/}; echo $(( (16#$hi << 32) | 16#$lo )); }
target=$(lsn_num "$marker")
until cp=$(grep -o '"checkpoint_lsn": "[^"]*"' "$run/state/status.json" | cut -d'"' -f4) && [ -n "$cp" ] && [ "$(lsn_num "$cp")" -gt "$target" ]; do
  sleep 0.2
done
"$SIPHON" status --config "$run/siphon.toml"

say "querying the replica while siphon runs (siphon query goes through the daemon)"
"$SIPHON" query --config "$run/siphon.toml" "SELECT status, count(*) AS orders FROM public.orders GROUP BY status ORDER BY status"

say "stopping siphon (SIGTERM: flush, checkpoint, exit 0)"
kill -TERM "$(cat "$run/siphon.pid")"
while kill -0 "$(cat "$run/siphon.pid")" 2>/dev/null; do sleep 0.1; done
rm -f "$run/siphon.pid"

say "the replica (DuckDB, demo-run/replica.duckdb)"
# numeric columns hold their exact text (NaN included) and arrays their elements and shape:
# cast to add amounts, take .elements for the list (docs/types.md).
"$SIPHON" query --config "$run/siphon.toml" "SELECT status, count(*) AS orders, sum(CAST(amount AS DECIMAL(12,2))) AS total FROM public.orders GROUP BY status ORDER BY status"
"$SIPHON" query --config "$run/siphon.toml" "SELECT id, name, tags.elements AS tags, created_at FROM public.customers WHERE id IN (1, 2, 5001) ORDER BY id"

say "source and replica side by side"
compare() { # compare LABEL SQL-over-TABLE TABLE
  local src dst
  src=$(pg_psql "$run/pg" "$port" shop -Atc "${2//TABLE/$3}" | tr '|' ' ')
  dst=$("$SIPHON" query --config "$run/siphon.toml" --format csv "${2//TABLE/public.$3}" | tail -n 1 | tr -d '\r' | tr ',' ' ')
  printf '%-10s source:  %s\n%-10s replica: %s\n' "$1" "$src" "" "$dst"
  [ "$src" = "$dst" ]
}
ok=1
compare orders "SELECT count(*), sum(CAST(amount AS DECIMAL(12,2))), md5(string_agg(id || ':' || customer_id || ':' || amount || ':' || status, ',' ORDER BY id)) FROM TABLE" orders || ok=0
compare customers "SELECT count(*), md5(string_agg(id || ':' || name || ':' || coalesce(email, ''), ',' ORDER BY id)) FROM TABLE" customers || ok=0
if [ $ok = 1 ]; then
  echo "MATCH: the replica equals the source, row for row"
else
  echo "MISMATCH between source and replica"; exit 1
fi
