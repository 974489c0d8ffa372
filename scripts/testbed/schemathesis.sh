#!/usr/bin/env bash
# Quflux test bed: Schemathesis (PyPI "schemathesis" 4.32.5), property-based fuzzing of the
# server's OpenAPI document. Used by scripts/api-fuzz.sh; no internet at run time.
#
# Usage: schemathesis.sh install|run|version
#   install               pip install into a virtualenv (idempotent)
#   run [--config-file FILE] SCHEMA [OPTIONS]
#                         schemathesis [--config-file FILE] run SCHEMA OPTIONS (the caller passes
#                         every option: --checks, --max-examples, --seed, ...); exit code 1 when
#                         a check fails
#   version               prints the installed version
#
# Files live outside the repository in ${QUFLUX_TESTBED_HOME:-$HOME/.cache/quflux-testbed}:
#   venv-schemathesis/ (the virtualenv).
set -euo pipefail

HOME_DIR=${QUFLUX_TESTBED_HOME:-$HOME/.cache/quflux-testbed}
ST_VERSION=${QUFLUX_SCHEMATHESIS_VERSION:-4.32.5}
VENV=$HOME_DIR/venv-schemathesis

installed() {
  [ -x "$VENV/bin/schemathesis" ] &&
    [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" = "$ST_VERSION" ]
}

cmd_install() {
  local t0=$SECONDS
  mkdir -p "$HOME_DIR"
  if ! installed; then
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "schemathesis==$ST_VERSION"
  fi
  "$VENV/bin/schemathesis" --version >/dev/null
  echo "schemathesis: $ST_VERSION installed in $VENV ($((SECONDS - t0)) s)"
}

cmd_run() {
  installed || { echo "schemathesis: not installed; run: $0 install" >&2; exit 1; }
  # Keep Hypothesis' example database out of the working directory.
  export HYPOTHESIS_STORAGE_DIRECTORY=${HYPOTHESIS_STORAGE_DIRECTORY:-$HOME_DIR/hypothesis}
  local global=()
  if [ "${1:-}" = --config-file ]; then
    global=(--config-file "$2")
    shift 2
  fi
  exec "$VENV/bin/schemathesis" "${global[@]}" run "$@"
}

case "${1:-}" in
  install) cmd_install ;;
  run) shift; cmd_run "$@" ;;
  version) installed && "$VENV/bin/schemathesis" --version ;;
  *) echo "usage: $0 install|run [--config-file FILE] SCHEMA [OPTIONS]|version" >&2; exit 2 ;;
esac
