#!/usr/bin/env bash
# A local Citus cluster (coordinator + two workers) on 127.0.0.1 for the remem test suite.
#
#   scripts/citus.sh [start]  build and install Citus once if it is missing, start (or reuse)
#                             the three servers, ensure database remem_test with the citus
#                             and vector extensions on each, register the workers with the
#                             coordinator; the last stdout line is the coordinator's URL
#   scripts/citus.sh stop     stop the three servers of this state directory
#   scripts/citus.sh url      print the URL if the coordinator runs, else exit 1
#
# Citus is built from the vendored source archive $REMEM_CITUS_TARBALL (default
# ../shared/vendor/citus-13.2.2.tar.gz from the project root; see its README) against the
# same PostgreSQL 15 + pgvector that scripts/postgres.sh installs (run that first). The
# build is skipped when citus.so of that version is already installed. Without the archive
# this prints why and exits 3: the Citus tests then skip with that reason.
#
# State (three data directories, sockets, logs, build files) lives in $REMEM_CITUS_DIR,
# default <repo>/.remem-citus (git-ignored); the URL is also written to $STATE_DIR/url.
# Extra server options: $REMEM_CITUS_OPTS (e.g. "-c fsync=off"), applied at start.
set -euo pipefail
umask 022

PG_MAJOR=15
CITUS_VERSION=13.2.2
PGBIN=/usr/lib/postgresql/$PG_MAJOR/bin
SERVER_INCLUDE=/usr/include/postgresql/$PG_MAJOR/server
DB=remem_test
BASE_PORT=54340  # coordinator; workers take the next two when free
NODES=(coordinator worker1 worker2)

REPO=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
TARBALL=${REMEM_CITUS_TARBALL:-$REPO/../shared/vendor/citus-$CITUS_VERSION.tar.gz}
STATE_DIR=${REMEM_CITUS_DIR:-$REPO/.remem-citus}
[[ $STATE_DIR == /* ]] || STATE_DIR=$PWD/$STATE_DIR
SETUP_LOG=$STATE_DIR/setup.log
URL_FILE=$STATE_DIR/url
PORTS_FILE=$STATE_DIR/ports
SOCKDIR=$STATE_DIR/sock
if (( ${#SOCKDIR} + 20 > 107 )); then
    SOCKDIR=/tmp/remem-citus-sock-$(printf '%s' "$STATE_DIR" | cksum | cut -d' ' -f1)
fi

unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD PGSSLMODE PGDATA
export DEBIAN_FRONTEND=noninteractive

SCRIPT=citus.sh
# shellcheck source=lib/common.sh
source "$REPO/scripts/lib/common.sh"

pkglibdir() { "$PGBIN/pg_config" --pkglibdir; }
sharedir() { "$PGBIN/pg_config" --sharedir; }

citus_installed() {
    local control
    control=$(sharedir)/extension/citus.control
    [[ -f $(pkglibdir)/citus.so && -f $control ]] || return 1
    # 13.2.2 installs default_version = '13.2-1'
    grep -q "default_version = '${CITUS_VERSION%.*}-" "$control"
}

ensure_build_packages() {
    local wanted=(postgresql-server-dev-$PG_MAJOR make gcc flex bison liblz4-dev libzstd-dev
        libkrb5-dev libssl-dev libselinux1-dev libxslt1-dev libpam0g-dev libreadline-dev)
    local missing=() p
    for p in "${wanted[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    (( ${#missing[@]} )) || return 0
    log "installing build dependencies: ${missing[*]} (one-time)"
    quiet "apt-get update" as_root apt-get -q update
    quiet "apt-get install" as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# PostgreSQL 15.20 exports have_createdb_privilege(); Citus 13.2.2's compatibility header
# defines its own static copy for PG 15, which then fails to compile. Drop that copy when
# the server declares the function (older 15.x minors keep it).
patch_createdb_privilege() {
    local header=$1/src/include/pg_version_compat.h
    grep -rqs 'have_createdb_privilege' "$SERVER_INCLUDE/commands/dbcommands.h" || return 0
    python3 - "$header" <<'PY'
import re
import sys

path = sys.argv[1]
text = open(path).read()
new, n = re.subn(
    r"\nstatic inline bool\nhave_createdb_privilege\(void\)\n\{.*?\n\}\n", "\n", text, flags=re.S
)
if n != 1:
    sys.exit(f"expected one static have_createdb_privilege in {path}, found {n}")
open(path, "w").write(new)
PY
}

build_citus() {
    citus_installed && return 0
    if [[ ! -f $TARBALL ]]; then
        echo "citus.sh: Citus source archive not found at $TARBALL; the Citus tests will be skipped" >&2
        exit 3
    fi
    ensure_build_packages
    log "building Citus $CITUS_VERSION from ${TARBALL##*/} (one-time, a few minutes)"
    local work=$STATE_DIR/build started=$SECONDS
    rm -rf "$work"
    mkdir -p "$work"
    quiet "unpacking ${TARBALL##*/}" tar -xzf "$TARBALL" -C "$work"
    local src=$work/citus-$CITUS_VERSION
    [[ -f $src/configure ]] || die "the archive has no citus-$CITUS_VERSION/configure"
    patch_createdb_privilege "$src"
    # --without-libcurl: no anonymous statistics calls to citusdata.com from test servers
    (cd "$src" && quiet "configure" ./configure "PG_CONFIG=$PGBIN/pg_config" --without-libcurl)
    quiet "make" make -C "$src" -j"$(nproc)"
    quiet "make install" as_root make -C "$src" install
    citus_installed || die "Citus was installed but $(pkglibdir)/citus.so or citus.control is missing"
    rm -rf "$work"
    log "Citus built and installed in $(( SECONDS - started )) s"
}

data_dir() { printf '%s/%s\n' "$STATE_DIR" "$1"; }

init_node() {
    local data
    data=$(data_dir "$1")
    [[ -f $data/PG_VERSION ]] && return 0
    rm -rf "$data"
    mkdir -p "$data" "$STATE_DIR/log"
    chmod 700 "$data"
    if (( EUID == 0 )); then
        chown postgres:postgres "$data" "$STATE_DIR/log"
        as_pg test -w "$data" ||
            die "user postgres cannot write $data; set REMEM_CITUS_DIR, e.g. REMEM_CITUS_DIR=/tmp/remem-citus"
    fi
    log "initdb $data"
    quiet "initdb $1" as_pg "$PGBIN/initdb" -D "$data" -U postgres --auth=trust \
        -E UTF8 --locale=C.UTF-8
    # Small servers: three of them share a 2-core test machine with everything else.
    cat >>"$data/postgresql.conf" <<'CONF'
shared_preload_libraries = 'citus'
shared_buffers = 128MB
max_connections = 200
max_prepared_transactions = 200
CONF
}

node_running() {
    local data
    data=$(data_dir "$1")
    [[ -f $data/postmaster.pid ]] || return 1
    as_pg "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1 || return 1
    sed -n 4p "$data/postmaster.pid"
}

port_free() {
    python3 - "$1" <<'PY'
import socket
import sys

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}

# The port each node listens on: its running port, else the one it had (workers are
# registered by port), else the next free one from BASE_PORT.
choose_ports() {
    local saved=() i port
    [[ -f $PORTS_FILE ]] && read -r -a saved <"$PORTS_FILE"
    PORTS=()
    for i in 0 1 2; do
        if port=$(node_running "${NODES[$i]}"); then
            PORTS+=("$port")
            continue
        fi
        port=${saved[$i]:-$(( BASE_PORT + i ))}
        while ! port_free "$port" || [[ " ${PORTS[*]} " == *" $port "* ]]; do
            port=$(( port + 3 ))
        done
        PORTS+=("$port")
    done
}

start_node() {
    local name=$1 port=$2 data
    data=$(data_dir "$name")
    node_running "$name" >/dev/null && return 0
    mkdir -p "$SOCKDIR"
    if (( EUID == 0 )); then chown postgres:postgres "$SOCKDIR"; fi
    log "starting $name on 127.0.0.1:$port"
    if ! as_pg "$PGBIN/pg_ctl" -D "$data" -l "$STATE_DIR/log/$name.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $SOCKDIR ${REMEM_CITUS_OPTS:-}" \
        start >>"$SETUP_LOG" 2>&1 </dev/null 9>&-; then
        tail -n 30 "$STATE_DIR/log/$name.log" >&2 2>/dev/null || true
        die "pg_ctl start $name failed"
    fi
}

psql_on() {
    local port=$1
    shift
    PGOPTIONS='-c client_min_messages=warning' "$PGBIN/psql" -X -q -w -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$port" -U postgres "$@"
}

ensure_db() {
    local port=$1
    if [[ $(psql_on "$port" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'") != 1 ]]; then
        quiet "create database on $port" psql_on "$port" -d postgres -c "CREATE DATABASE $DB"
    fi
    # Only what is missing: a registered worker refuses even a no-op CREATE EXTENSION.
    local ext
    for ext in citus vector; do
        if [[ $(psql_on "$port" -d "$DB" -tAc "SELECT 1 FROM pg_extension WHERE extname = '$ext'") != 1 ]]; then
            quiet "create extension $ext on $port" psql_on "$port" -d "$DB" -c "CREATE EXTENSION $ext"
        fi
    done
}

# Point the coordinator at itself and at the two workers; a worker whose port changed since
# it was registered is moved, not added twice.
register_workers() {
    local coord=$1 w1=$2 w2=$3 old=()
    [[ -f $PORTS_FILE ]] && read -r -a old <"$PORTS_FILE"
    quiet "set coordinator host" psql_on "$coord" -d "$DB" \
        -c "SELECT citus_set_coordinator_host('127.0.0.1', $coord)"
    local i port before
    for i in 1 2; do
        port=$([[ $i == 1 ]] && echo "$w1" || echo "$w2")
        before=${old[$i]:-}
        if [[ -n $before && $before != "$port" ]]; then
            quiet "move worker$i" psql_on "$coord" -d "$DB" -c \
                "SELECT citus_update_node(nodeid, '127.0.0.1', $port) FROM pg_dist_node
                 WHERE nodename = '127.0.0.1' AND nodeport = $before"
        fi
        quiet "add worker$i" psql_on "$coord" -d "$DB" -c \
            "SELECT citus_add_node('127.0.0.1', $port) WHERE NOT EXISTS (
                 SELECT 1 FROM pg_dist_node WHERE nodename = '127.0.0.1' AND nodeport = $port)"
    done
}

url_for() { printf 'postgresql://postgres@127.0.0.1:%s/%s\n' "$1" "$DB"; }

cmd_start() {
    mkdir -p "$STATE_DIR"
    take_lock 600
    [[ -x $PGBIN/initdb && -f $(sharedir)/extension/vector.control ]] ||
        die "PostgreSQL $PG_MAJOR with pgvector is not installed: run scripts/postgres.sh first"
    build_citus
    local name i
    for name in "${NODES[@]}"; do init_node "$name"; done
    choose_ports
    for i in 0 1 2; do start_node "${NODES[$i]}" "${PORTS[$i]}"; done
    for i in 2 1 0; do ensure_db "${PORTS[$i]}"; done
    register_workers "${PORTS[@]}"
    printf '%s %s %s\n' "${PORTS[@]}" >"$PORTS_FILE"
    local url
    url=$(url_for "${PORTS[0]}")
    printf '%s\n' "$url" >"$URL_FILE.tmp"
    mv -f "$URL_FILE.tmp" "$URL_FILE"
    printf '%s\n' "$url"
}

cmd_stop() {
    [[ -d $STATE_DIR ]] || { log "no cluster in $STATE_DIR; nothing to stop"; return 0; }
    take_lock 600
    local name data
    for name in "${NODES[@]}"; do
        data=$(data_dir "$name")
        if [[ -f $data/PG_VERSION ]] && as_pg "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
            quiet "pg_ctl stop $name" as_pg "$PGBIN/pg_ctl" -D "$data" -m fast -w -t 60 stop
            log "stopped $name"
        fi
    done
    rm -f "$URL_FILE"
}

cmd_url() {
    local port
    port=$(node_running coordinator) || die "the coordinator is not running (start it with: scripts/citus.sh start)"
    url_for "$port"
}

case ${1:-start} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    url) cmd_url ;;
    -h | --help | help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
    *) die "unknown command '$1' (use: start | stop | url)" ;;
esac
