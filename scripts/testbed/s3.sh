#!/usr/bin/env bash
# Quflux test bed: a real S3-compatible server, s3s-fs (Rust, crates.io), on loopback. It stores
# objects as files and checks AWS SigV4 signatures, presigned URLs included, so a broken signer or
# a wrong secret fails here as it would on AWS. Installs from crates.io only; no internet at run
# time.
#
# Usage: s3.sh install|start|stop|status|env
#   Endpoint     http://localhost:${QUFLUX_S3_PORT:-9000}   (bound to 127.0.0.1 only)
#   Credentials  testkey / testsecret, region us-east-1
#   Path style   http://localhost:9000/<bucket>/<key>
#   Virtual host http://<bucket>.localhost:9000/<key>: `--domain localhost:PORT` must equal the
#                Host header exactly, port included. glibc does not resolve `*.localhost`; the
#                tests map it to 127.0.0.1 in their HTTP client.
#
# Files live outside the repository in ${QUFLUX_TESTBED_HOME:-$HOME/.cache/quflux-testbed}:
#   cargo/bin/s3s-fs, s3/data/ (wiped on every start), run/s3.pid, logs/s3.log.
# `install` is idempotent: it returns at once when the pinned binary is there (a cold install
# compiles for about 2 minutes). `stop` only ends the process whose id is in run/s3.pid.
#
# Tests: QUFLUX_TEST_S3_URL, QUFLUX_TEST_S3_ACCESS_KEY, QUFLUX_TEST_S3_SECRET_KEY
#        (quflux-store/tests/s3.rs); `s3.sh env` prints them.
set -euo pipefail

HOME_DIR=${QUFLUX_TESTBED_HOME:-$HOME/.cache/quflux-testbed}
S3S_FS_VERSION=${QUFLUX_S3S_FS_VERSION:-0.14.1} # 0.15+ needs rustc >= 1.96
PORT=${QUFLUX_S3_PORT:-9000}
ACCESS_KEY=testkey
SECRET_KEY=testsecret
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/testbed/lib.sh
source "$HERE/lib.sh"
BIN=$HOME_DIR/cargo/bin/s3s-fs
DATA=$HOME_DIR/s3/data
PIDFILE=$HOME_DIR/run/s3.pid
LOG=$HOME_DIR/logs/s3.log

is_running() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

# Any HTTP answer counts (an unsigned request gets 403).
healthy() {
  curl -s -o /dev/null -m 1 "http://127.0.0.1:$PORT/" 2>/dev/null
}

installed() {
  [ -x "$BIN" ] && [ -f "$HOME_DIR/s3/.installed" ] &&
    [ "$(cat "$HOME_DIR/s3/.installed")" = "$S3S_FS_VERSION" ]
}

cmd_install() {
  local t0=$SECONDS
  if installed; then
    echo "s3: s3s-fs $S3S_FS_VERSION already installed in $HOME_DIR/cargo"
    return 0
  fi
  mkdir -p "$HOME_DIR/s3"
  # A target dir of its own: the workspace's cache would be locked by concurrent builds.
  CARGO_TARGET_DIR=$HOME_DIR/s3/target cargo install s3s-fs --version "$S3S_FS_VERSION" \
    --locked --features binary --root "$HOME_DIR/cargo"
  rm -rf "$HOME_DIR/s3/target"
  echo "$S3S_FS_VERSION" >"$HOME_DIR/s3/.installed"
  echo "s3: s3s-fs $S3S_FS_VERSION installed in $HOME_DIR/cargo ($((SECONDS - t0)) s)"
}

cmd_env() {
  echo "QUFLUX_TEST_S3_URL=http://localhost:$PORT"
  echo "QUFLUX_TEST_S3_ACCESS_KEY=$ACCESS_KEY"
  echo "QUFLUX_TEST_S3_SECRET_KEY=$SECRET_KEY"
}

cmd_start() {
  if is_running; then
    echo "s3: already running (pid $(cat "$PIDFILE"))"
    return 0
  fi
  installed || { echo "s3: not installed; run: $0 install" >&2; exit 1; }
  mkdir -p "$HOME_DIR/run" "$HOME_DIR/logs"
  rm -rf "$DATA"
  mkdir -p "$DATA"
  local t0; t0=$(date +%s%N)
  # Without --domain, virtual-host requests are misrouted; with a domain that differs from the
  # Host header (e.g. without the port) every request fails with InvalidBucketName.
  nohup "$BIN" --host 127.0.0.1 --port "$PORT" \
    --access-key "$ACCESS_KEY" --secret-key "$SECRET_KEY" \
    --domain "localhost:$PORT" "$DATA" >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  tb_wait_healthy s3 "$PIDFILE" "$LOG" 100 || exit 1
  echo "s3: up on http://localhost:$PORT (pid $(cat "$PIDFILE"), $(( ($(date +%s%N) - t0) / 1000000 )) ms)"
}

cmd_stop() {
  tb_stop s3 "$PIDFILE"
}

cmd_status() {
  if is_running; then
    if healthy; then
      echo "s3: running and healthy (pid $(cat "$PIDFILE"), http://localhost:$PORT)"
    else
      echo "s3: running but not answering (pid $(cat "$PIDFILE"))"
      return 1
    fi
  else
    echo "s3: not running"
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
