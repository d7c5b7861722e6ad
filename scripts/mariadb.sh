# Throwaway MariaDB server helpers for scripts (benchmarks), in the style of scripts/pg.sh. Source it.
# mariadb_start DIR PORT [extra mariadbd options...] ; mariadb_stop DIR ; mariadb_sql DIR [mariadb args...]
# The server runs as the `mysql` user (created by the mariadb-server package), listens on 127.0.0.1
# only, logs its binlog as siphon needs it (ROW, FULL row image and metadata, server_id 1) with
# durability off; root has no password (TCP from 127.0.0.1 and the socket DIR/mysqld.sock).
# The options are those of crates/siphon-testkit/src/mariadb.rs; extra options come last and win.

mariadb_start() {
  local dir=$1 port=$2; shift 2
  mkdir -p "$dir/data" && chmod 755 "$dir" && chown -R mysql:mysql "$dir"
  if [ -e "$dir/mariadbd.pid" ] && kill -0 "$(cat "$dir/mariadbd.pid")" 2>/dev/null; then
    echo "mariadb_start: a server already runs on $dir" >&2; return 1
  fi
  mariadb-install-db --no-defaults --datadir="$dir/data" --user=mysql \
    --auth-root-authentication-method=normal --skip-test-db >"$dir/install-db.log" 2>&1 \
    || { cat "$dir/install-db.log" >&2; return 1; }
  mariadbd --no-defaults --datadir="$dir/data" --user=mysql --port="$port" --bind-address=127.0.0.1 \
    --socket="$dir/mysqld.sock" --pid-file="$dir/mariadbd.pid" --log-error="$dir/mariadb.log" \
    --server-id=1 --log-bin=binlog --binlog-format=ROW --binlog-row-image=FULL --binlog-row-metadata=FULL \
    --gtid-strict-mode=ON --innodb-flush-log-at-trx-commit=0 --sync-binlog=0 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci "$@" </dev/null >/dev/null 2>&1 &
  local pid=$! i
  for i in $(seq 1 1200); do
    if mariadb-admin --no-defaults -uroot --socket="$dir/mysqld.sock" ping >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { echo "mariadbd exited during startup:" >&2; tail -n 30 "$dir/mariadb.log" >&2; return 1; }
    sleep 0.05
  done
  echo "mariadbd not ready after 60 s:" >&2; tail -n 30 "$dir/mariadb.log" >&2
  kill "$pid" 2>/dev/null; return 1
}

mariadb_stop() {
  local dir=$1 pid
  [ -e "$dir/mariadbd.pid" ] || return 0
  pid=$(cat "$dir/mariadbd.pid")
  mariadb-admin --no-defaults -uroot --socket="$dir/mysqld.sock" shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

# The `mariadb` client as root over the socket, batch mode without column names:
# mariadb_sql DIR [mariadb args...] (SQL on stdin or with -e).
mariadb_sql() {
  local dir=$1; shift
  mariadb --no-defaults -uroot --socket="$dir/mysqld.sock" -N -B --default-character-set=utf8mb4 "$@"
}
