#!/bin/sh
# Starts Alertmanager with ALERT_WEBHOOK_URL in place of the placeholder receiver URL of
# alertmanager.yml (Alertmanager's config has no environment expansion). Extra arguments go to
# Alertmanager. The paths can be moved with ALERTMANAGER_TEMPLATE, ALERTMANAGER_CONFIG and
# ALERTMANAGER_BIN, which the delivery test uses to run this very script outside a container.
set -eu
template=${ALERTMANAGER_TEMPLATE:-/etc/alertmanager/alertmanager.yml}
config=${ALERTMANAGER_CONFIG:-/tmp/alertmanager.yml}
placeholder='http://alert-webhook.invalid/notes-pipeline'
url=${ALERT_WEBHOOK_URL:-$placeholder}
# `&`, `|` and `\` are special in a sed replacement; a URL's query string may hold `&`.
escaped=$(printf '%s\n' "$url" | sed 's/[&|\\]/\\&/g')
sed "s|$placeholder|$escaped|" "$template" >"$config"
exec "${ALERTMANAGER_BIN:-/bin/alertmanager}" --config.file="$config" "$@"
