# Throwaway PostgreSQL cluster helpers for scripts (demo, benchmarks). Source it.
# pg_start DIR PORT [extra postgresql.conf lines...] ; pg_stop DIR
# The server runs as the `postgres` user (PostgreSQL refuses root), listens on 127.0.0.1 only,
# and requires a password (scram-sha-256) on TCP.

pg_start() {
  local dir=$1 port=$2; shift 2
  local bin=${SIPHON_PG_BIN:-/usr/lib/postgresql/15/bin}
  mkdir -p "$dir" && chmod 755 "$dir" && chown postgres "$dir"
  runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $port"
    echo "unix_socket_directories = '$dir/data'"
    echo "wal_level = logical"
    echo "max_replication_slots = 10"
    echo "max_wal_senders = 10"
    for line in "$@"; do echo "$line"; done
  } >>"$dir/data/postgresql.conf"
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w start >/dev/null
}

pg_stop() {
  local bin=${SIPHON_PG_BIN:-/usr/lib/postgresql/15/bin}
  runuser -u postgres -- "$bin/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
}

# psql as the postgres superuser over the unix socket: pg_psql DIR PORT DB [psql args...]
pg_psql() {
  local dir=$1 port=$2 db=$3; shift 3
  "${SIPHON_PG_BIN:-/usr/lib/postgresql/15/bin}/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/data" -p "$port" -U postgres -d "$db" "$@"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + RANDOM % 20000))
}
