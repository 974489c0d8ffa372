#!/usr/bin/env bash
# Quflux test bed: a real SMTP sink with an HTTP API (MailDev, npm "maildev" 3.0.0), loopback
# only, for the e-mail notifier tests of quflux-platforms. Installs from npm only; no internet
# at run time.
#
# Usage: smtp.sh install|start|stop|status|env
#   SMTP : 127.0.0.1:${QUFLUX_SMTP_PORT:-1025}   (no auth, no TLS)
#   API  : http://127.0.0.1:${QUFLUX_MAILDEV_WEB_PORT:-1080}/api
#            GET /api/healthz, GET /api/email[?to.address=...], GET /api/email/:id,
#            DELETE /api/email/:id, DELETE /api/email/all
#
# Files live outside the repository in ${QUFLUX_TESTBED_HOME:-$HOME/.cache/quflux-testbed}:
#   maildev/ (node_modules), run/smtp.pid, logs/smtp.log.
# `install` is idempotent and returns at once when the pinned version is already there.
# `stop` only ends the process whose id is in run/smtp.pid.
#
# Tests: QUFLUX_TEST_SMTP_URL and QUFLUX_TEST_MAILDEV_API (quflux-platforms/tests/email.rs);
#        `smtp.sh env` prints them.
set -euo pipefail

HOME_DIR=${QUFLUX_TESTBED_HOME:-$HOME/.cache/quflux-testbed}
MAILDEV_VERSION=${QUFLUX_MAILDEV_VERSION:-3.0.0}
SMTP_PORT=${QUFLUX_SMTP_PORT:-1025}
WEB_PORT=${QUFLUX_MAILDEV_WEB_PORT:-1080}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/testbed/lib.sh
source "$HERE/lib.sh"
DIR=$HOME_DIR/maildev
PIDFILE=$HOME_DIR/run/smtp.pid
LOG=$HOME_DIR/logs/smtp.log

is_running() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

smtp_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null
}

healthy() {
  curl -sf -m 1 "http://127.0.0.1:$WEB_PORT/api/healthz" >/dev/null 2>&1 && smtp_open
}

installed() {
  [ -f "$DIR/node_modules/maildev/package.json" ] &&
    [ "$(node -p "require('$DIR/node_modules/maildev/package.json').version" 2>/dev/null)" = "$MAILDEV_VERSION" ]
}

cmd_install() {
  local t0=$SECONDS
  mkdir -p "$DIR"
  if ! installed; then
    (
      cd "$DIR"
      [ -f package.json ] || echo '{"name":"quflux-smtp-testbed","private":true}' >package.json
      npm install --no-audit --no-fund --loglevel=error "maildev@$MAILDEV_VERSION"
    )
  fi
  echo "smtp: maildev $MAILDEV_VERSION installed in $DIR ($((SECONDS - t0)) s)"
}

cmd_env() {
  echo "QUFLUX_TEST_SMTP_URL=smtp://127.0.0.1:$SMTP_PORT"
  echo "QUFLUX_TEST_MAILDEV_API=http://127.0.0.1:$WEB_PORT/api"
}

cmd_start() {
  if is_running; then
    echo "smtp: already running (pid $(cat "$PIDFILE"))"
    return 0
  fi
  installed || { echo "smtp: not installed; run: $0 install" >&2; exit 1; }
  mkdir -p "$HOME_DIR/run" "$HOME_DIR/logs"
  local t0; t0=$(date +%s%N)
  # --ip/--web-ip: MailDev binds every interface by default.
  (exec nohup node "$DIR/node_modules/maildev/dist/bin/maildev.js" \
    --ip 127.0.0.1 --web-ip 127.0.0.1 -s "$SMTP_PORT" -w "$WEB_PORT" >"$LOG" 2>&1 </dev/null) &
  echo $! >"$PIDFILE"
  tb_wait_healthy smtp "$PIDFILE" "$LOG" 150 || exit 1
  echo "smtp: up, SMTP 127.0.0.1:$SMTP_PORT, API http://127.0.0.1:$WEB_PORT/api (pid $(cat "$PIDFILE"), $(( ($(date +%s%N) - t0) / 1000000 )) ms)"
}

cmd_stop() {
  tb_stop smtp "$PIDFILE"
}

cmd_status() {
  if is_running; then
    if healthy; then
      echo "smtp: running and healthy (pid $(cat "$PIDFILE"), smtp://127.0.0.1:$SMTP_PORT)"
    else
      echo "smtp: running but not answering (pid $(cat "$PIDFILE"))"
      return 1
    fi
  else
    echo "smtp: not running"
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
