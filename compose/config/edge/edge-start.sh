#!/bin/sh
# nginx container entry (POSIX sh: the image is alpine/busybox).
# 1. Render the site templates (the image's own entrypoint step) into /etc/nginx/sites.
# 2. Enable a TLS site only when its certificate exists, so a first start (no certificates yet)
#    still serves port 80 and certbot can answer the ACME challenge.
# 3. Watch certbot's reload stamp: after a renewal, re-enable sites, `nginx -t`, and reload
#    gracefully (no dropped connections). A failing `nginx -t` keeps the running config.
set -eu

STAMP=/etc/letsencrypt/.napops-reload
POLL_SECONDS=${EDGE_RELOAD_POLL_SECONDS:-30}

log() { printf '{"service":"edge","event":"%s","detail":"%s"}\n' "$1" "$2"; }

enable_sites() {
    rm -f /etc/nginx/enabled/*.conf
    for site in /etc/nginx/sites/*.conf; do
        [ -e "$site" ] || continue
        cert=$(sed -n 's/^[[:space:]]*ssl_certificate[[:space:]]\{1,\}\([^;]*\);.*/\1/p' "$site" | head -n 1)
        if [ -n "$cert" ] && [ -r "$cert" ]; then
            ln -s "$site" "/etc/nginx/enabled/$(basename "$site")"
        else
            log site_disabled "$(basename "$site"): no certificate at ${cert:-?}"
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
        enable_sites
        if nginx -t -q; then
            nginx -s reload && log reloaded "certificates changed"
        else
            log reload_refused "nginx -t failed; the running configuration stays"
        fi
    done
}

# The image's entrypoint scripts render /etc/nginx/templates; run them without starting nginx.
/docker-entrypoint.d/20-envsubst-on-templates.sh
enable_sites
watch_reloads &
exec nginx -g 'daemon off;'
