#!/usr/bin/env bash
# Local PostgreSQL 15 + pgvector on 127.0.0.1 for the remem test suite.
#
#   scripts/postgres.sh [start]  install what is missing, start (or reuse) the
#                                server, ensure database remem_test with the
#                                vector extension; the last stdout line is the URL
#   scripts/postgres.sh stop     stop the server of this state directory
#   scripts/postgres.sh url      print the URL if the server runs, else exit 1
#
# State (data, sockets, logs, build files) lives in $REMEM_PG_DIR, default
# <repo>/.remem-pg (git-ignored). The URL is also written to $STATE_DIR/url.
# Progress goes to stderr; noisy tool output goes to $STATE_DIR/setup.log and
# is shown only when a step fails. Extra server options: $REMEM_PG_OPTS
# (e.g. "-c fsync=off"), applied when the server is started.
#
# Debian bookworm has PostgreSQL 15 but no pgvector for it, so pgvector is
# built once from Debian trixie's source package, fetched with a private apt
# sources list derived from the system's (the system apt config is untouched).
set -euo pipefail
umask 022

PG_MAJOR=15
PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin
# postgres.h comes with postgresql-server-dev-15 (pgxs.mk alone ships in the client package)
SERVER_HEADER=/usr/include/postgresql/$PG_MAJOR/server/postgres.h
VECTOR_CONTROL=/usr/share/postgresql/$PG_MAJOR/extension/vector.control
DB=remem_test
DEFAULT_PORT=54329

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
STATE_DIR=${REMEM_PG_DIR:-$REPO/.remem-pg}
[[ $STATE_DIR == /* ]] || STATE_DIR=$PWD/$STATE_DIR
DATA=$STATE_DIR/data
LOGDIR=$STATE_DIR/log
SERVER_LOG=$LOGDIR/postgres.log
SETUP_LOG=$STATE_DIR/setup.log
URL_FILE=$STATE_DIR/url

# Unix socket paths are limited to ~107 bytes; fall back to /tmp for deep checkouts.
SOCKDIR=$STATE_DIR/sock
if (( ${#SOCKDIR} + 20 > 107 )); then
    SOCKDIR=/tmp/remem-pg-sock-$(printf '%s' "$STATE_DIR" | cksum | cut -d' ' -f1)
fi

# Connection settings from the caller's environment must not redirect our clients.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD PGSSLMODE PGDATA

export DEBIAN_FRONTEND=noninteractive

SCRIPT=postgres.sh
# shellcheck source=lib/common.sh
source "$REPO/scripts/lib/common.sh"

ensure_packages() {
    local missing=()
    [[ -x $PGBIN/initdb ]] || missing+=("postgresql-$PG_MAJOR")
    if [[ ! -f $VECTOR_CONTROL ]]; then
        [[ -f $SERVER_HEADER ]] || missing+=("postgresql-server-dev-$PG_MAJOR")
        command -v make >/dev/null 2>&1 || missing+=(make)
        command -v gcc >/dev/null 2>&1 || missing+=(gcc)
    fi
    (( ${#missing[@]} )) || return 0
    log "installing ${missing[*]} (one-time)"
    quiet "apt-get update" as_root apt-get -q update
    quiet "apt-get install" as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    [[ -x $PGBIN/initdb ]] || die "$PGBIN/initdb still missing after install"
}

# Write a deb822 deb-src stanza for trixie, derived from the system's first
# Debian stanza (same mirror URIs, components and Signed-By).
write_src_sources() {
    local out=$1 sys=/etc/apt/sources.list.d/debian.sources body
    if [[ -r $sys ]]; then
        body=$(awk '
            /^[[:space:]]*#/ { next }
            /^[[:space:]]*$/ { if (seen) exit; next }
            { seen = 1 }
            /^[^[:space:]]/ {
                field = tolower(substr($0, 1, index($0, ":") - 1))
                keep = (field == "uris" || field == "components" || field == "signed-by")
            }
            keep { print }
        ' "$sys")
    elif [[ -r /etc/apt/sources.list ]]; then
        # One-line format fallback: first "deb" line, its URI only.
        body=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print "URIs: " $i; print "Components: main"; exit } }' \
            /etc/apt/sources.list)
    else
        body=
    fi
    grep -qi '^URIs:' <<<"$body" ||
        die "could not derive a Debian mirror from $sys or /etc/apt/sources.list"
    printf 'Types: deb-src\nSuites: trixie\n%s\n' "$body" >"$out"
}

build_pgvector() {
    [[ -f $VECTOR_CONTROL ]] && return 0
    log "building pgvector from Debian trixie's source package (one-time)"
    local work=$STATE_DIR/build
    rm -rf "$work"
    mkdir -p "$work/sp" "$work/lists/partial" "$work/cache" "$work/src"
    write_src_sources "$work/sp/src.sources"
    local o=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$work/sp"
             -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
    quiet "apt-get update (private trixie deb-src list)" apt-get -q "${o[@]}" update
    (cd "$work/src" && quiet "apt-get source pgvector" apt-get -q "${o[@]}" source --download-only pgvector)
    local tarballs=("$work"/src/pgvector_*.orig.tar.*)
    [[ -f ${tarballs[0]} ]] || die "no pgvector orig tarball was downloaded into $work/src"
    quiet "unpacking ${tarballs[0]##*/}" tar -xf "${tarballs[0]}" -C "$work/src"
    local control srcdir
    control=$(find "$work/src" -maxdepth 2 -name vector.control -print -quit)
    [[ -n $control ]] || die "unpacked pgvector source has no vector.control"
    srcdir=$(dirname "$control")
    log "compiling ${srcdir##*/}"
    local mk=(make -C "$srcdir" "PG_CONFIG=$PGBIN/pg_config" OPTFLAGS=)
    quiet "pgvector build" "${mk[@]}" -j"$(nproc)"
    quiet "pgvector install" as_root "${mk[@]}" install
    [[ -f $VECTOR_CONTROL ]] || die "pgvector installed but $VECTOR_CONTROL is missing"
    rm -rf "$work"
}

init_cluster() {
    [[ -f $DATA/PG_VERSION ]] && return 0
    if [[ -e $DATA ]]; then
        log "removing incomplete data directory $DATA"
        rm -rf "$DATA"
    fi
    mkdir -p "$DATA" "$LOGDIR"
    chmod 700 "$DATA"
    if (( EUID == 0 )); then
        id postgres >/dev/null 2>&1 || die "user postgres does not exist"
        chown postgres:postgres "$DATA" "$LOGDIR"
        as_pg test -w "$DATA" ||
            die "user postgres cannot write $DATA (is a parent directory not traversable?); set REMEM_PG_DIR, e.g. REMEM_PG_DIR=/tmp/remem-pg"
    fi
    log "initdb $DATA"
    quiet "initdb" as_pg "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust \
        -E UTF8 --locale=C.UTF-8
}

# Port of the server running on $DATA, or return 1.
running_port() {
    local port
    [[ -f $DATA/postmaster.pid ]] || return 1
    port=$(sed -n 4p "$DATA/postmaster.pid" 2>/dev/null) || return 1
    [[ $port =~ ^[0-9]+$ ]] || return 1
    as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1 || return 1
    "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres || return 1
    printf '%s\n' "$port"
}

pick_port() {
    local py
    py=$(command -v python3 || command -v python) || die "python3 is needed to pick a free port"
    "$py" - "$DEFAULT_PORT" <<'PY'
import socket
import sys


def bind(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return s.getsockname()[1]
    except OSError:
        return None
    finally:
        s.close()


print(bind(int(sys.argv[1])) or bind(0))
PY
}

start_server() {
    local port=$1
    mkdir -p "$SOCKDIR" "$LOGDIR"
    if (( EUID == 0 )); then chown postgres:postgres "$SOCKDIR" "$LOGDIR"; fi
    log "starting server on 127.0.0.1:$port"
    printf '\n== %s: pg_ctl start -p %s\n' "$(date '+%F %T')" "$port" >>"$SETUP_LOG"
    if ! as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$SERVER_LOG" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $SOCKDIR ${REMEM_PG_OPTS:-}" \
        start >>"$SETUP_LOG" 2>&1 </dev/null 9>&-; then  # 9>&-: the server must not inherit our lock
        printf 'postgres.sh: ERROR: pg_ctl start failed; last lines of %s:\n' "$SERVER_LOG" >&2
        tail -n 30 "$SERVER_LOG" >&2 2>/dev/null || true
        exit 1
    fi
}

ensure_db() {
    local port=$1 exists
    local psql=("$PGBIN/psql" -X -q -w -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
    exists=$("${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'") ||
        die "cannot query the server on port $port"
    if [[ $exists != 1 ]]; then
        log "creating database $DB"
        quiet "create database" "${psql[@]}" -d postgres -c "CREATE DATABASE $DB"
    fi
    quiet "create extension vector" env PGOPTIONS='-c client_min_messages=warning' \
        "${psql[@]}" -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS vector"
}

url_for() { printf 'postgresql://postgres@127.0.0.1:%s/%s\n' "$1" "$DB"; }

cmd_start() {
    mkdir -p "$STATE_DIR"
    take_lock 300
    local port url
    if port=$(running_port); then
        log "reusing running server on 127.0.0.1:$port"
    else
        ensure_packages
        build_pgvector
        init_cluster
        port=$(pick_port)
        [[ $port =~ ^[0-9]+$ ]] || die "could not find a free port (got '$port')"
        start_server "$port"
    fi
    ensure_db "$port"
    url=$(url_for "$port")
    printf '%s\n' "$url" >"$URL_FILE.tmp"
    mv -f "$URL_FILE.tmp" "$URL_FILE"
    printf '%s\n' "$url"
}

cmd_stop() {
    if [[ ! -f $DATA/PG_VERSION ]]; then
        log "no cluster in $STATE_DIR; nothing to stop"
        rm -f "$URL_FILE"
        return 0
    fi
    take_lock 300
    if as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
        quiet "pg_ctl stop" as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop
        log "stopped"
    else
        log "server is not running"
    fi
    rm -f "$URL_FILE"
}

cmd_url() {
    local port
    port=$(running_port) || die "server is not running (start it with: scripts/postgres.sh start)"
    url_for "$port"
}

case ${1:-start} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    url) cmd_url ;;
    -h | --help | help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command '$1' (use: start | stop | url)" ;;
esac
