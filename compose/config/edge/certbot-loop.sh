#!/bin/sh
# certbot container entry: obtain missing certificates for CERTBOT_DOMAINS (space-separated;
# an entry "a,b" is one certificate for both names, stored under a) (webroot, HTTP-01
# through nginx on port 80), then renew every CERTBOT_INTERVAL_SECONDS. certbot renews only
# certificates within 30 days of expiry; the deploy hook asks nginx to reload after a renewal.
# A failure is logged and retried next pass: the certs exporter alerts long before expiry.
# After every pass certbot-textfile.py reports it as a Prometheus text file
# (CERTBOT_TEXTFILE, default napops_certbot.prom in the node exporter's textfile directory,
# the agents stack's volume mounted at /textfile): napops_certbot_* (last run, last success,
# last result, consecutive failures, each lineage's validity). Prometheus scrapes it from this
# host's node exporter, so it reaches the ASUSTOR from the QNAP (docs/certs.md, "Renewal").
# It runs on the Python certbot runs on (it needs cryptography; CERTBOT_PYTHON overrides).
# CERTBOT_ONCE=1 runs one pass and exits with its result (an operator's manual pass, tests).
# CERTBOT_EXTRA_ARGS is added to every certbot call (e.g. --force-renewal, --config-dir ...).
set -u

INTERVAL=${CERTBOT_INTERVAL_SECONDS:-43200}
HOOK=${CERTBOT_DEPLOY_HOOK:-/etc/napops/certbot-deploy-hook.sh}
WEBROOT=${CERTBOT_WEBROOT:-/var/www/acme}
LIVE=${CERTBOT_LIVE_DIR:-/etc/letsencrypt/live}
TEXTFILE=${CERTBOT_TEXTFILE:-/textfile/napops_certbot.prom}
REPORTER=${CERTBOT_REPORTER:-/etc/napops/certbot-textfile.py}
# the interpreter of certbot's own entry point (its shebang), which has cryptography
PYTHON=${CERTBOT_PYTHON:-$(sed -n '1s/^#![[:space:]]*//p' "$(command -v certbot)" 2>/dev/null)}
PYTHON=${PYTHON:-python3}
HEARTBEAT=${CERTBOT_HEARTBEAT:-/tmp/certbot-heartbeat}
EXTRA=${CERTBOT_EXTRA_ARGS:-}

log() { printf '{"service":"certbot","event":"%s","detail":"%s"}\n' "$1" "$2"; }

report() {  # $1: ok or failed
    # shellcheck disable=SC2086 # PYTHON may be "/usr/bin/env python3"
    $PYTHON "$REPORTER" --result "$1" --textfile "$TEXTFILE" --live "$LIVE" \
        --interval "$INTERVAL" || log report_failed "$TEXTFILE not written (CertbotHeartbeatMissing will fire)"
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
    report "$result"
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
