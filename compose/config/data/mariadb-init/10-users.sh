# shellcheck shell=bash
# First start only (docker-entrypoint-initdb.d): Gitea's database (utf8mb4_unicode_ci, as the
# estate created it) and user, and the
# read-only exporter user. Passwords come from the Compose secrets, never from this file.
# Not executable on purpose: the entrypoint then *sources* it, which is what makes its
# docker_process_sql helper available here (and keeps its own `set -eo pipefail`).

gitea_pw=$(cat /run/secrets/gitea_db_password)
exporter_pw=$(cat /run/secrets/mysqld_exporter_password)

# docker_process_sql (the entrypoint's helper) connects as root over the local socket.
docker_process_sql <<SQL
CREATE DATABASE IF NOT EXISTS gitea CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS 'gitea'@'%' IDENTIFIED BY '${gitea_pw}';
GRANT ALL PRIVILEGES ON gitea.* TO 'gitea'@'%';
CREATE USER IF NOT EXISTS 'exporter'@'%' IDENTIFIED BY '${exporter_pw}' WITH MAX_USER_CONNECTIONS 3;
GRANT PROCESS, REPLICATION CLIENT, SELECT, SLAVE MONITOR ON *.* TO 'exporter'@'%';
FLUSH PRIVILEGES;
SQL
