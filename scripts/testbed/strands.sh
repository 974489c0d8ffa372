#!/usr/bin/env bash
# Quflux test bed: a real Strands Agents content agent (A2A 0.3 over JSON-RPC) backed by a
# scripted, fake OpenAI-compatible LLM in the same process (scripts/testbed/strands-agent.py).
# No internet and no API key at run time; installs from PyPI only.
#
# Usage: strands.sh install|start|stop|status|env
#   agent : http://127.0.0.1:${QUFLUX_STRANDS_AGENT_PORT:-9010}
#           A2A JSON-RPC POST / (message/send), agent card GET /.well-known/agent-card.json,
#           GET /healthz
#   LLM   : http://127.0.0.1:${QUFLUX_FAKE_LLM_PORT:-8091}/v1  (POST /chat/completions, GET /models)
#
# Files live outside the repository in ${QUFLUX_TESTBED_HOME:-$HOME/.cache/quflux-testbed}:
#   venv-strands/ (the virtualenv), run/strands.pid, logs/strands.log.
# `stop` only ends the process whose id is in run/strands.pid.
#
# Tests: QUFLUX_TEST_STRANDS_URL=http://127.0.0.1:9010 (quflux-ai/tests/strands.rs) and
#        QUFLUX_TEST_OPENAI_URL=http://127.0.0.1:8091/v1 (quflux-ai/tests/openai_compatible.rs);
#        `strands.sh env` prints both.
set -euo pipefail

HOME_DIR=${QUFLUX_TESTBED_HOME:-$HOME/.cache/quflux-testbed}
STRANDS_VERSION=${QUFLUX_STRANDS_VERSION:-1.62.0}
AGENT_PORT=${QUFLUX_STRANDS_AGENT_PORT:-9010}
LLM_PORT=${QUFLUX_FAKE_LLM_PORT:-8091}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/testbed/lib.sh
source "$HERE/lib.sh"
VENV=$HOME_DIR/venv-strands
PIDFILE=$HOME_DIR/run/strands.pid
LOG=$HOME_DIR/logs/strands.log

is_running() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

healthy() {
  python3 - "$AGENT_PORT" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=1).read()
except Exception:
    sys.exit(1)
PY
}

cmd_install() {
  local t0=$SECONDS
  mkdir -p "$HOME_DIR"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    "strands-agents[a2a,openai]==$STRANDS_VERSION"
  "$VENV/bin/python" -c "import strands, strands.multiagent.a2a, strands.models.openai, uvicorn, fastapi"
  echo "strands: strands-agents $STRANDS_VERSION installed in $VENV ($((SECONDS - t0)) s)"
}

cmd_env() {
  echo "QUFLUX_TEST_STRANDS_URL=http://127.0.0.1:$AGENT_PORT"
  echo "QUFLUX_TEST_OPENAI_URL=http://127.0.0.1:$LLM_PORT/v1"
}

cmd_start() {
  if is_running; then
    echo "strands: already running (pid $(cat "$PIDFILE"))"
    return 0
  fi
  [ -x "$VENV/bin/python" ] || { echo "strands: not installed; run: $0 install" >&2; exit 1; }
  mkdir -p "$HOME_DIR/run" "$HOME_DIR/logs"
  local t0=$SECONDS
  QUFLUX_STRANDS_AGENT_PORT=$AGENT_PORT QUFLUX_FAKE_LLM_PORT=$LLM_PORT \
    nohup "$VENV/bin/python" "$HERE/strands-agent.py" >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  tb_wait_healthy strands "$PIDFILE" "$LOG" 600 || exit 1
  echo "strands: agent on http://127.0.0.1:$AGENT_PORT, fake LLM on http://127.0.0.1:$LLM_PORT/v1 (pid $(cat "$PIDFILE"), $((SECONDS - t0)) s)"
}

cmd_stop() {
  tb_stop strands "$PIDFILE"
}

cmd_status() {
  if is_running; then
    if healthy; then
      echo "strands: running and healthy (pid $(cat "$PIDFILE"), http://127.0.0.1:$AGENT_PORT)"
    else
      echo "strands: running but not answering /healthz (pid $(cat "$PIDFILE"))"
      return 1
    fi
  else
    echo "strands: not running"
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
