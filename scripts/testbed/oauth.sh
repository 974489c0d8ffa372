#!/usr/bin/env bash
# Quflux test bed: a strict local OAuth 2.0 authorization server (npm "oauth2-mock-server"
# 8.2.3 + scripts/testbed/oauth-server.mjs) for the token tests of quflux-platforms.
# No internet at run time; installs from npm only.
#
# Usage: oauth.sh install|start|stop|status|env
#   http://127.0.0.1:${QUFLUX_OAUTH_PORT:-8095}
#     GET  /authorize   redirects at once (no login page) with a single-use code; login_hint=<sub>
#     POST /token       authorization_code (+ PKCE S256) and refresh_token (rotating, reuse
#                       revokes the family)
#     GET  /userinfo    {sub, preferred_username} for a live bearer token, 401 otherwise
#     POST /revoke      RFC 7009
#     GET  /healthz, /.well-known/openid-configuration, /jwks
#   QUFLUX_OAUTH_TOKEN_TTL (default 3600) sets the access token lifetime in seconds.
#
# Files live outside the repository in ${QUFLUX_TESTBED_HOME:-$HOME/.cache/quflux-testbed}:
#   oauth/ (node_modules + the server script), run/oauth.pid, logs/oauth.log.
# `stop` only ends the process whose id is in run/oauth.pid.
#
# Tests: QUFLUX_TEST_OAUTH_URL=http://127.0.0.1:8095 (quflux-platforms/tests/oauth_server.rs);
#        `oauth.sh env` prints it.
set -euo pipefail

HOME_DIR=${QUFLUX_TESTBED_HOME:-$HOME/.cache/quflux-testbed}
MOCK_VERSION=${QUFLUX_OAUTH_MOCK_VERSION:-8.2.3} # 8.x runs on Node 20; 9.x needs Node >= 22.12
PORT=${QUFLUX_OAUTH_PORT:-8095}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/testbed/lib.sh
source "$HERE/lib.sh"
DIR=$HOME_DIR/oauth
PIDFILE=$HOME_DIR/run/oauth.pid
LOG=$HOME_DIR/logs/oauth.log

is_running() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

healthy() {
  curl -sf -m 1 "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1
}

installed() {
  [ -f "$DIR/node_modules/oauth2-mock-server/package.json" ] &&
    [ "$(node -p "require('$DIR/node_modules/oauth2-mock-server/package.json').version" 2>/dev/null)" = "$MOCK_VERSION" ]
}

cmd_install() {
  local t0=$SECONDS
  mkdir -p "$DIR"
  if ! installed; then
    (
      cd "$DIR"
      [ -f package.json ] || echo '{"name":"quflux-oauth-testbed","private":true,"type":"module"}' >package.json
      npm install --no-audit --no-fund --loglevel=error "oauth2-mock-server@$MOCK_VERSION"
    )
  fi
  cp "$HERE/oauth-server.mjs" "$DIR/oauth-server.mjs"
  echo "oauth: oauth2-mock-server $MOCK_VERSION installed in $DIR ($((SECONDS - t0)) s)"
}

cmd_env() {
  echo "QUFLUX_TEST_OAUTH_URL=http://127.0.0.1:$PORT"
}

cmd_start() {
  if is_running; then
    echo "oauth: already running (pid $(cat "$PIDFILE"))"
    return 0
  fi
  installed || { echo "oauth: not installed; run: $0 install" >&2; exit 1; }
  # Always run the repository's current server script.
  cp "$HERE/oauth-server.mjs" "$DIR/oauth-server.mjs"
  mkdir -p "$HOME_DIR/run" "$HOME_DIR/logs"
  local t0; t0=$(date +%s%N)
  (cd "$DIR" && QUFLUX_OAUTH_PORT=$PORT exec nohup node oauth-server.mjs >"$LOG" 2>&1 </dev/null) &
  echo $! >"$PIDFILE"
  tb_wait_healthy oauth "$PIDFILE" "$LOG" 100 || exit 1
  echo "oauth: up on http://127.0.0.1:$PORT (pid $(cat "$PIDFILE"), $(( ($(date +%s%N) - t0) / 1000000 )) ms)"
}

cmd_stop() {
  tb_stop oauth "$PIDFILE"
}

cmd_status() {
  if is_running; then
    if healthy; then
      echo "oauth: running and healthy (pid $(cat "$PIDFILE"), http://127.0.0.1:$PORT)"
    else
      echo "oauth: running but not answering /healthz (pid $(cat "$PIDFILE"))"
      return 1
    fi
  else
    echo "oauth: not running"
    return 1
  fi
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *)
    echo "usage: $0 install|start|stop|status|env" >&2
    exit 2
    ;;
esac
