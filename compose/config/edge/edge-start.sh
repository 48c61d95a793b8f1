#!/bin/sh
# nginx container entry (POSIX sh: the image is alpine/busybox).
# 1. Render the site templates (the image's own entrypoint step) into /etc/nginx/sites.
# 2. Enable a TLS site only when its certificate and key are readable and nginx accepts it, so
#    a first start (no certificates yet) or one broken certificate still serves port 80 (and
#    certbot can answer the ACME challenge) and every other site.
# 3. Watch certbot's reload stamp: after a renewal, add the sites that became usable, `nginx -t`
#    and reload gracefully (no dropped connections). A failing `nginx -t` (a key nginx cannot
#    read, a chain it rejects) keeps the running configuration, so the previous certificates
#    keep serving; the certs sidecar then sees the new certificate on disk not being served.
# The EDGE_* variables only exist so that tests can run this script outside the container.
set -eu

STAMP=${EDGE_RELOAD_STAMP:-/etc/letsencrypt/.napops-reload}
POLL_SECONDS=${EDGE_RELOAD_POLL_SECONDS:-30}
SITES=${EDGE_SITES_DIR:-/etc/nginx/sites}
ENABLED=${EDGE_ENABLED_DIR:-/etc/nginx/enabled}
RENDER=${EDGE_RENDER:-/docker-entrypoint.d/20-envsubst-on-templates.sh}
NGINX=${EDGE_NGINX:-nginx}   # a command line: tests add -c/-p

log() { printf '{"service":"edge","event":"%s","detail":"%s"}\n' "$1" "$2"; }

directive() {  # $1 directive, $2 site file: its first value
    sed -n "s/^[[:space:]]*$1[[:space:]]\{1,\}\([^;]*\);.*/\1/p" "$2" | head -n 1
}

# usable SITE: the site has a readable certificate and key (or is not a TLS site)
usable() {
    cert=$(directive ssl_certificate "$1")
    key=$(directive ssl_certificate_key "$1")
    if [ -z "$cert" ]; then return 0; fi
    if [ -r "$cert" ] && [ -r "$key" ]; then return 0; fi
    log site_disabled "$(basename "$1"): certificate or key not readable at ${cert} / ${key:-?}"
    return 1
}

nginx_ok() { $NGINX -t -q 2>/dev/null; }

# start: each usable site that nginx accepts together with the ones before it
enable_sites() {
    rm -f "$ENABLED"/*.conf
    for site in "$SITES"/*.conf; do
        [ -e "$site" ] || continue
        usable "$site" || continue
        link="$ENABLED/$(basename "$site")"
        ln -s "$site" "$link"
        if ! nginx_ok; then
            rm -f "$link"
            log site_disabled "$(basename "$site"): nginx -t fails with it"
        fi
    done
}

# reload: add the sites that became usable; never drop one that serves
add_new_sites() {
    added=""
    for site in "$SITES"/*.conf; do
        [ -e "$site" ] || continue
        link="$ENABLED/$(basename "$site")"
        [ -e "$link" ] && continue
        if usable "$site" >/dev/null; then
            ln -s "$site" "$link"
            added="$added $link"
        fi
    done
}

stamp_of() { stat -c %Y "$STAMP" 2>/dev/null || echo 0; }

watch_reloads() {
    last=$(stamp_of)
    while :; do
        sleep "$POLL_SECONDS"
        now=$(stamp_of)
        [ "$now" = "$last" ] && continue
        last=$now
        add_new_sites
        if nginx_ok; then
            $NGINX -s reload && log reloaded "certificates changed"
        else
            # shellcheck disable=SC2086 # a list of paths without spaces
            [ -z "$added" ] || rm -f $added
            log reload_refused "nginx -t failed; the running configuration and certificates stay"
        fi
    done
}

# The image's entrypoint scripts render /etc/nginx/templates; run them without starting nginx.
$RENDER
enable_sites
watch_reloads &
exec $NGINX -g 'daemon off;'
