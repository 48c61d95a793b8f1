#!/bin/sh
# certbot container entry: obtain missing certificates for CERTBOT_DOMAINS (space-separated;
# an entry "a,b" is one certificate for both names, stored under a) (webroot, HTTP-01
# through nginx on port 80), then renew every CERTBOT_INTERVAL_SECONDS. certbot renews only
# certificates within 30 days of expiry; the deploy hook asks nginx to reload after a renewal.
# A failure is logged and retried next pass: the certs exporter alerts long before expiry.
# After every pass the status file (CERTBOT_STATUS_FILE) records it for the certs sidecar
# (napops_certs_renewal_*): last_run, last_success, consecutive_failures, result.
# CERTBOT_ONCE=1 runs one pass and exits with its result (an operator's manual pass, tests).
# CERTBOT_EXTRA_ARGS is added to every certbot call (e.g. --force-renewal, --config-dir ...).
set -u

INTERVAL=${CERTBOT_INTERVAL_SECONDS:-43200}
HOOK=${CERTBOT_DEPLOY_HOOK:-/etc/napops/certbot-deploy-hook.sh}
WEBROOT=${CERTBOT_WEBROOT:-/var/www/acme}
LIVE=${CERTBOT_LIVE_DIR:-/etc/letsencrypt/live}
STATUS=${CERTBOT_STATUS_FILE:-/etc/letsencrypt/napops-certbot.status}
HEARTBEAT=${CERTBOT_HEARTBEAT:-/tmp/certbot-heartbeat}
EXTRA=${CERTBOT_EXTRA_ARGS:-}

log() { printf '{"service":"certbot","event":"%s","detail":"%s"}\n' "$1" "$2"; }

last_success=0
failures=0
if [ -r "$STATUS" ]; then
    last_success=$(sed -n 's/^last_success=\([0-9]*\).*/\1/p' "$STATUS")
    failures=$(sed -n 's/^consecutive_failures=\([0-9]*\).*/\1/p' "$STATUS")
fi

write_status() {  # $1: ok or failed
    now=$(date +%s)
    if [ "$1" = ok ]; then
        last_success=$now
        failures=0
    else
        failures=$(( ${failures:-0} + 1 ))
    fi
    printf 'last_run=%s\nlast_success=%s\nconsecutive_failures=%s\nresult=%s\n' \
        "$now" "${last_success:-0}" "$failures" "$1" > "$STATUS.tmp" && mv "$STATUS.tmp" "$STATUS"
}

one_pass() {
    result=ok
    # one certificate per entry; "a,b" is one certificate naming both, stored under a
    for domain in ${CERTBOT_DOMAINS:-}; do
        [ -e "$LIVE/${domain%%,*}/fullchain.pem" ] && continue
        # shellcheck disable=SC2086 # EXTRA is a list of arguments
        if certbot certonly --non-interactive --agree-tos --email "$CERTBOT_EMAIL" \
            --server "$CERTBOT_SERVER" --webroot -w "$WEBROOT" -d "$domain" \
            --cert-name "${domain%%,*}" --deploy-hook "$HOOK" $EXTRA; then
            log issued "$domain"
        else
            log issue_failed "$domain"
            result=failed
        fi
    done
    # shellcheck disable=SC2086
    if certbot renew --non-interactive --server "$CERTBOT_SERVER" --deploy-hook "$HOOK" $EXTRA; then
        log renew_checked "ok"
    else
        log renew_failed "see the lines above; runbook docs/runbooks/ssl-renewal-failing.md"
        result=failed
    fi
    write_status "$result"
    touch "$HEARTBEAT"
    [ "$result" = ok ]
}

while :; do
    one_pass
    ok=$?
    [ "${CERTBOT_ONCE:-0}" = 1 ] && exit "$ok"
    sleep "$INTERVAL" &
    wait $!
done
