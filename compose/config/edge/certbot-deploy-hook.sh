#!/bin/sh
# certbot --deploy-hook: runs after each certificate issued or renewed ($RENEWED_LINEAGE).
# nginx runs as uid/gid 101 and must read the new private key: give it the group, mode 0640.
# Then touch the stamp that edge-start.sh watches, which reloads nginx gracefully.
set -eu

NGINX_GID=${NGINX_GID:-101}
LETSENCRYPT_DIR=${LETSENCRYPT_DIR:-/etc/letsencrypt}
archive=$(dirname "$(dirname "$RENEWED_LINEAGE")")/archive/$(basename "$RENEWED_LINEAGE")
for key in "$archive"/privkey*.pem; do
    chgrp "$NGINX_GID" "$key"
    chmod 0640 "$key"
done
# the live/ and archive/ folders are 0700 by default; nginx needs to traverse them
chmod 0750 "$(dirname "$RENEWED_LINEAGE")" "$(dirname "$archive")"
chgrp "$NGINX_GID" "$(dirname "$RENEWED_LINEAGE")" "$(dirname "$archive")"
touch "$LETSENCRYPT_DIR/.napops-reload"
