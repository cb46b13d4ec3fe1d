# Helpers shared by scripts/postgres.sh and scripts/citus.sh (sourced, not run).
# The caller sets SCRIPT (its name, for messages), SETUP_LOG and STATE_DIR first.

log() { printf '%s: %s\n' "$SCRIPT" "$*" >&2; }
die() { printf '%s: ERROR: %s\n' "$SCRIPT" "$*" >&2; exit 1; }

# Run a noisy command with its output appended to $SETUP_LOG; on failure show
# the tail of that log and exit.  Usage: quiet "what" cmd args...
quiet() {
    local what=$1
    shift
    printf '\n== %s: %s\n' "$(date '+%F %T')" "$*" >>"$SETUP_LOG"
    if ! "$@" >>"$SETUP_LOG" 2>&1 </dev/null; then
        printf '%s: ERROR: %s failed: %s\n---- last lines of %s ----\n' \
            "$SCRIPT" "$what" "$*" "$SETUP_LOG" >&2
        tail -n 40 "$SETUP_LOG" >&2
        exit 1
    fi
}

# Run as the database owner: user postgres when we are root (initdb and pg_ctl
# refuse root), else the current user.
as_pg() {
    if (( EUID == 0 )); then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

as_root() {
    if (( EUID == 0 )); then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "root (or passwordless sudo) is needed to run: $*"
    fi
}

# One run at a time per state folder. Usage: take_lock SECONDS
take_lock() {
    exec 9>"$STATE_DIR/.lock"
    flock -w "$1" 9 || die "timed out waiting for another $SCRIPT on $STATE_DIR"
}
