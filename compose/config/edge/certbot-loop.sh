#!/bin/sh
# certbot container entry: obtain missing certificates for CERTBOT_DOMAINS (space-separated;
# an entry "a,b" is one certificate for both names, stored under a) (webroot, HTTP-01
# through nginx on port 80), then renew every CERTBOT_INTERVAL_SECONDS. certbot renews only
# certificates within 30 days of expiry; the deploy hook asks nginx to reload after a renewal.
# A failure is logged and retried next pass: the certs exporter alerts long before expiry.
set -u

INTERVAL=${CERTBOT_INTERVAL_SECONDS:-43200}
HOOK=/etc/napops/certbot-deploy-hook.sh

log() { printf '{"service":"certbot","event":"%s","detail":"%s"}\n' "$1" "$2"; }

while :; do
    # one certificate per entry; "a,b" is one certificate naming both, stored under a
    for domain in ${CERTBOT_DOMAINS:-}; do
        [ -e "/etc/letsencrypt/live/${domain%%,*}/fullchain.pem" ] && continue
        if certbot certonly --non-interactive --agree-tos --email "$CERTBOT_EMAIL" \
            --server "$CERTBOT_SERVER" --webroot -w /var/www/acme -d "$domain" \
            --cert-name "${domain%%,*}" --deploy-hook "$HOOK"; then
            log issued "$domain"
        else
            log issue_failed "$domain"
        fi
    done
    if certbot renew --non-interactive --server "$CERTBOT_SERVER" --deploy-hook "$HOOK"; then
        log renew_checked "ok"
    else
        log renew_failed "see the lines above; runbook docs/runbooks/ssl-renewal-failing.md"
    fi
    touch /tmp/certbot-heartbeat
    sleep "$INTERVAL" &
    wait $!
done
