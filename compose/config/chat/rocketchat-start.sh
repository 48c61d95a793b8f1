#!/bin/sh
# rocketchat-start.sh: Rocket.Chat reads its MongoDB URLs only from the environment, and the
# password sits inside them. Build MONGO_URL and MONGO_OPLOG_URL from the Compose file secret
# named by MONGO_RC_PASSWORD_FILE, then run the image's command (exec: same PID, signals).
#
#   entrypoint: ["/bin/sh", "/usr/local/lib/napops/rocketchat-start.sh"]
#   command: ["node", "main.js"]
#
# The URLs exist only in the process environment: never in the Compose file, `docker inspect`
# or the logs (nothing here prints a value). Refuses to start (exit 78, one line naming the
# variable) when the file is missing, unreadable or empty, or the password is not URL-safe.
set -eu

fail() {
    printf 'rocketchat-start: %s\n' "$*" >&2
    exit 78
}

[ "$#" -gt 0 ] || fail "no command to run: pass the image's command as arguments"
file=${MONGO_RC_PASSWORD_FILE:-}
[ -n "$file" ] || fail "MONGO_RC_PASSWORD_FILE is not set: it must name the secret file of the rocketchat user's password"
[ -f "$file" ] || fail "MONGO_RC_PASSWORD_FILE=$file does not exist: is the secret mounted?"
[ -r "$file" ] || fail "MONGO_RC_PASSWORD_FILE=$file is not readable by uid $(id -u)"
password=$(cat "$file")
[ -n "$password" ] || fail "MONGO_RC_PASSWORD_FILE=$file is empty"
case $password in
    *[!A-Za-z0-9._~-]*) fail "the password in $file must be URL-safe (letters, digits, . _ ~ -)" ;;
esac
host=${MONGO_RC_HOST:-mongodb:27017}
unset MONGO_RC_PASSWORD_FILE MONGO_RC_HOST
MONGO_URL="mongodb://rocketchat:${password}@${host}/rocketchat?replicaSet=rs0&authSource=rocketchat"
MONGO_OPLOG_URL="mongodb://rocketchat:${password}@${host}/local?replicaSet=rs0&authSource=rocketchat"
export MONGO_URL MONGO_OPLOG_URL
exec "$@"
