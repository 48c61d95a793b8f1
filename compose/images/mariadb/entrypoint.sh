#!/bin/bash
# First start: create the data directory, set the root password, the database and the user
# from MARIADB_* variables (as the upstream image does); then run the server in the foreground.
set -euo pipefail
DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock
if [[ "${1:-}" == mariadbd && ! -d "$DATADIR/mysql" ]]; then
  : "${MARIADB_ROOT_PASSWORD:?set MARIADB_ROOT_PASSWORD}"
  mariadb-install-db --datadir="$DATADIR" --auth-root-authentication-method=normal \
    --skip-test-db >/dev/null
  mariadbd --datadir="$DATADIR" --skip-networking --socket="$SOCKET" &
  pid=$!
  # wait for the bootstrap server however slow the machine is, but not for a dead one
  until mariadb-admin --socket="$SOCKET" -uroot ping >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "entrypoint: the bootstrap server exited" >&2; exit 1; }
    sleep 0.5
  done
  sql="ALTER USER 'root'@'localhost' IDENTIFIED BY '${MARIADB_ROOT_PASSWORD//\'/\'\'}';"
  sql+="CREATE USER 'root'@'%' IDENTIFIED BY '${MARIADB_ROOT_PASSWORD//\'/\'\'}';"
  sql+="GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
  if [[ -n "${MARIADB_DATABASE:-}" ]]; then
    sql+="CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
  fi
  if [[ -n "${MARIADB_USER:-}" ]]; then
    sql+="CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY '${MARIADB_PASSWORD//\'/\'\'}';"
    [[ -n "${MARIADB_DATABASE:-}" ]] && sql+="GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_USER'@'%';"
  fi
  mariadb --socket="$SOCKET" -uroot -e "$sql"
  kill "$pid"
  wait "$pid" || true
fi
if [[ "${1:-}" == mariadbd ]]; then
  shift
  exec mariadbd --datadir="$DATADIR" --socket="$SOCKET" --bind-address=0.0.0.0 "$@"
fi
exec "$@"
