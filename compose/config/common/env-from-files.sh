#!/bin/sh
# env-from-files.sh: give applications that read secrets only from their environment (the
# NAP-DMS backend and frontend read DB_PASSWORD, JWT_SECRET, AUTH_SECRET ... and no *_FILE)
# their values from Compose file secrets, then run the image's own entrypoint.
#
#   entrypoint: ["/bin/sh", "/usr/local/lib/napops/env-from-files.sh", "docker-entrypoint.sh"]
#   command: ["node", "dist/main"]
#   environment: {DB_PASSWORD_FILE: /run/secrets/lcbp3_db_password}
#
# For every variable X_FILE in the environment: X is exported with the content of that file
# (trailing newlines removed, as $(cat) does) and X_FILE is unset; then `exec "$@"`, so the
# image's entrypoint becomes the process (PID as before, signals reach it). The value exists
# only in the process environment: never in the Compose file, `docker inspect` or the logs
# (this script prints variable names and paths, never a value, and runs without `set -x`).
#
# Refuses to start (exit 78, EX_CONFIG, one line on stderr naming the variable) when X and
# X_FILE are both set, when the file is missing, unreadable by this user or empty, or when no
# command follows. POSIX sh: busybox (alpine images) and dash (Debian images) alike.
set -eu

fail() {
    printf 'env-from-files: %s\n' "$*" >&2
    exit 78
}

[ "$#" -gt 0 ] || fail "no command to run: pass the image's entrypoint and command as arguments"

names=$(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)_FILE=.*/\1/p' | sort -u)
is_set='' path='' both='' value=''
for name in $names; do
    # a line of a multi-line value can look like NAME_FILE=...; only real variables count
    eval "is_set=\${${name}_FILE+set}"
    [ "$is_set" = set ] || continue
    eval "path=\${${name}_FILE}"
    eval "both=\${${name}+set}"
    [ "$both" != set ] || fail "$name and ${name}_FILE are both set: set only ${name}_FILE"
    [ -n "$path" ] || fail "${name}_FILE is empty: it must name the secret file holding $name"
    [ -e "$path" ] || fail "${name}_FILE=$path does not exist: is the secret mounted? ($name not set)"
    [ -f "$path" ] || fail "${name}_FILE=$path is not a file ($name not set)"
    [ -r "$path" ] || fail "${name}_FILE=$path is not readable by uid $(id -u) gid $(id -g) ($name not set)"
    value=$(cat "$path")
    [ -n "$value" ] || fail "${name}_FILE=$path is empty ($name not set)"
    export "$name=$value"
    unset "${name}_FILE"
done
unset names name is_set path both value

exec "$@"
