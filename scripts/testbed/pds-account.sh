#!/usr/bin/env bash
# Creates a fresh account and an app password on the local test PDS (scripts/testbed/pds.sh) and
# prints the variables `cargo run --example publish_bluesky` reads:
#   eval "$(bash scripts/testbed/pds-account.sh | sed 's/^/export /')"
set -euo pipefail
PDS=${QUFLUX_TEST_PDS_URL:-http://127.0.0.1:${QUFLUX_PDS_PORT:-2583}}
handle="demo$(date +%s%N | tail -c 9).test"
password="pw-$(openssl rand -hex 12)"
session=$(curl -sf -X POST "$PDS/xrpc/com.atproto.server.createAccount" \
  -H 'content-type: application/json' \
  -d "{\"email\":\"$handle@example.com\",\"handle\":\"$handle\",\"password\":\"$password\"}")
jwt=$(printf '%s' "$session" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessJwt"])')
app_password=$(curl -sf -X POST "$PDS/xrpc/com.atproto.server.createAppPassword" \
  -H "authorization: Bearer $jwt" -H 'content-type: application/json' -d '{"name":"quflux-example"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["password"])')
echo "QUFLUX_BLUESKY_PDS_URL=$PDS"
echo "QUFLUX_BLUESKY_IDENTIFIER=$handle"
echo "QUFLUX_BLUESKY_APP_PASSWORD=$app_password"
