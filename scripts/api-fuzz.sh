#!/usr/bin/env bash
# API fuzzing: Schemathesis against the real `quflux-server all` binary and its own
# /openapi.json, with every check (`--checks all`). Fails on any 5xx, any response that breaks
# the documented schema, status codes or headers, schema-invalid data that is accepted,
# schema-valid data that is refused, undocumented methods or ignored authentication.
#
# Usage: bash scripts/api-fuzz.sh [extra schemathesis run options]
#   QUFLUX_FUZZ_PORT          loopback port of the server (default: a free one)
#   QUFLUX_FUZZ_SEED          Hypothesis seed (default 1; the run is reproducible)
#   QUFLUX_FUZZ_MAX_EXAMPLES  test cases per operation and phase (default 25)
#   QUFLUX_FUZZ_KEEP=1        keep the temporary directory (database, media, server log)
#
# The server runs on a temporary SQLite database and media directory with the defaults
# (offline AI, outbox publishers); nothing leaves the machine. Schemathesis is installed by
# scripts/testbed/schemathesis.sh; its settings are in scripts/api-fuzz.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/quflux-target}"
SEED=${QUFLUX_FUZZ_SEED:-1}
MAX_EXAMPLES=${QUFLUX_FUZZ_MAX_EXAMPLES:-25}
PORT=${QUFLUX_FUZZ_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
BASE="http://127.0.0.1:$PORT"
t0=$SECONDS

bash scripts/testbed/schemathesis.sh install
echo "api-fuzz: building quflux-server"
# The debug build, with the password hash (argon2id, 19 MiB) optimised: unoptimised it takes
# about a second per sign-up or login, and the fuzzer signs up and logs in hundreds of times.
cargo build --quiet -p quflux-server --bin quflux-server \
  --config 'profile.dev.package.argon2.opt-level=3' \
  --config 'profile.dev.package.blake2.opt-level=3'
BIN="$CARGO_TARGET_DIR/debug/quflux-server"

tmp=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid"
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then kill -9 "$server_pid"; fi
  fi
  if [ "${QUFLUX_FUZZ_KEEP:-0}" = 1 ]; then
    echo "api-fuzz: kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

# Only the settings below: nothing inherited from the caller's environment or a .env file.
(
  cd "$tmp"
  for v in $(compgen -e | grep -E '^(QUFLUX_|AWS_)'); do unset "$v"; done
  export QUFLUX_BIND="127.0.0.1:$PORT" \
    QUFLUX_DATABASE_URL="sqlite://$tmp/fuzz.db" \
    QUFLUX_FS_ROOT="$tmp/media" \
    QUFLUX_OUTBOX_PATH="$tmp/outbox.jsonl" \
    QUFLUX_LOG_FORMAT=text \
    QUFLUX_LOG=warn \
    QUFLUX_LOGIN_MAX_ATTEMPTS_PER_ADDRESS=100000
  exec "$BIN" all
) >"$tmp/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 300); do
  curl -sf -m 1 "$BASE/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if ! curl -sf -m 1 "$BASE/healthz" >/dev/null 2>&1; then
  echo "api-fuzz: the server did not start; last lines of its log:" >&2
  tail -30 "$tmp/server.log" >&2
  exit 1
fi
echo "api-fuzz: quflux-server up on $BASE (pid $server_pid)"

# json_get KEY.PATH: a value from the JSON document on stdin (`items.0.id`).
json_get() {
  python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$1"
}
# api METHOD PATH [JSON]: the caller's request; the body on success, a failure otherwise.
api() {
  curl -sSf -m 30 -X "$1" "$BASE$2" -H "Authorization: Bearer $TOKEN" \
    ${3:+-H 'content-type: application/json' -d "$3"}
}
register() {
  curl -sSf -m 30 -X POST "$BASE/api/v1/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"$1@fuzz.quflux.test\",\"password\":\"fuzz-password-1\"}" | json_get token
}
TOKEN=$(register fuzzer)
# Logout revokes the session it is called with: it gets its own (see scripts/api-fuzz.toml).
QUFLUX_FUZZ_LOGOUT_TOKEN=$(register logout)

# Resources that the fuzzer cannot make itself, so that the operations on their ids reach
# more than a 404 (the ids are fixed in scripts/api-fuzz.toml): a post with a 1×1 PNG, its
# schedule and publication, a second schedule to cancel, and local (outbox) accounts on
# Mastodon and X (the one to disconnect).
printf '%s' 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==' |
  base64 -d >"$tmp/seed.png"
upload() {
  curl -sSf -m 30 -X POST "$BASE/api/v1/media" -H "Authorization: Bearer $TOKEN" \
    -F "file=@$tmp/seed.png;type=image/png" | json_get id
}
connect() {
  api POST /api/v1/connections/login "{\"platform\":\"$1\",\"identifier\":\"fuzzer\",\"app_password\":\"unused\"}" |
    json_get items.0.id
}
media_id=$(upload)
QUFLUX_FUZZ_CONNECTION_ID=$(connect mastodon)
QUFLUX_FUZZ_DELETE_CONNECTION_ID=$(connect twitter)
post_id=$(api POST /api/v1/posts "{\"text\":\"Fuzz seed post\",\"media\":[{\"media_id\":\"$media_id\",\"alt_text\":\"a pixel\"}]}" | json_get id)
scheduled=$(api POST /api/v1/schedules "{\"post_id\":\"$post_id\",\"local_time\":\"2099-01-01T09:00:00\",\"time_zone\":\"Europe/Paris\",\"platforms\":[\"mastodon\"]}")
QUFLUX_FUZZ_SCHEDULE_ID=$(printf '%s' "$scheduled" | json_get schedule.id)
QUFLUX_FUZZ_PUBLICATION_ID=$(printf '%s' "$scheduled" | json_get publications.0.id)
other_post=$(api POST /api/v1/posts '{"text":"Fuzz seed post to cancel"}' | json_get id)
QUFLUX_FUZZ_CANCEL_SCHEDULE_ID=$(api POST /api/v1/schedules "{\"post_id\":\"$other_post\",\"local_time\":\"2099-01-02T09:00:00\",\"platforms\":[\"mastodon\"]}" | json_get schedule.id)
export QUFLUX_FUZZ_LOGOUT_TOKEN QUFLUX_FUZZ_CONNECTION_ID QUFLUX_FUZZ_DELETE_CONNECTION_ID \
  QUFLUX_FUZZ_SCHEDULE_ID QUFLUX_FUZZ_CANCEL_SCHEDULE_ID QUFLUX_FUZZ_PUBLICATION_ID
echo "api-fuzz: seeded post $post_id, schedule $QUFLUX_FUZZ_SCHEDULE_ID, publication $QUFLUX_FUZZ_PUBLICATION_ID"

status=0
bash scripts/testbed/schemathesis.sh run \
  --config-file scripts/api-fuzz.toml "$BASE/openapi.json" \
  --checks all \
  -H "Authorization: Bearer $TOKEN" \
  --seed "$SEED" \
  --max-examples "$MAX_EXAMPLES" \
  --generation-database none \
  --workers 2 \
  --no-color "$@" || status=$?

if grep -q "handler panicked" "$tmp/server.log"; then
  echo "api-fuzz: the server log shows a panic:" >&2
  grep -B2 -A5 "handler panicked" "$tmp/server.log" | head -40 >&2
  status=1
fi
echo "api-fuzz: finished in $((SECONDS - t0)) s (seed $SEED, $MAX_EXAMPLES examples per operation): $([ "$status" = 0 ] && echo passed || echo FAILED)"
exit "$status"
