#!/usr/bin/env bash
# API load benchmark against PostgreSQL (BENCHMARKS.md, "API under load"). Run by hand:
#
#   scripts/bench/api.sh
#
# 1. builds `quflux-server` in release, creates a fresh PostgreSQL database, starts
#    `quflux-server all` on it (API and an idle worker in one process: the single-machine
#    deployment, so the RSS figure covers the whole server), registers a user and seeds posts;
# 2. for each concurrency C: `pgbench` inserting one `posts` row per transaction (the API's
#    INSERT, with the JSON content an API-created row holds), then `oha` on POST /api/v1/posts
#    with C connections for the same time; prints both rates, the ratio, and the CPU each insert
#    cost in PostgreSQL, in the load tool and in the server;
# 3. GET /api/v1/posts?limit=20 at a constant rate (oha -q, latency measured from each
#    request's scheduled send time: no coordinated omission), prints p50/p99/p99.9/max and the
#    server's peak RSS (VmHWM, reset just before the phase) and its largest sampled VmRSS;
# 4. stops the server and drops the database (also on failure or Ctrl-C).
#
# Needs PostgreSQL (trust auth), pgbench, psql, curl and jq. `oha` is installed on first use
# with `cargo install oha --locked` into $QUFLUX_TESTBED_HOME/cargo (about 17 minutes on two
# cores). Knobs (environment):
#   QUFLUX_BENCH_PG     server URL without database (default postgres://postgres@127.0.0.1:5432)
#   CONCURRENCY         POST/pgbench concurrencies (default "8 32")
#   DURATION            seconds per POST and per pgbench run (default 10)
#   ROUNDS              pgbench + POST rounds per concurrency (default 3)
#   SEED                posts created before the measurements (default 10000)
#   GET_RATE, GET_SECS  constant GET rate and its duration (default 1000 and 30)
#   GET_CONNECTIONS     oha connections for the GET phase (default 32)
#   MODE                `all` (default) or `serve`
#   MALLOC_ARENA_MAX    glibc malloc arenas of the server (default 2, the recommended
#                       deployment setting; `unset` is not possible here, use a large value
#                       such as 64 to see glibc's default)
#   PORT                server port on 127.0.0.1 (default 18437)
#   SERVER_BIN          a quflux-server binary to run instead of building one
#   PROFILE             a path prefix: write `perf` profiles of the server during the POST runs
#                       (PREFIX-post.txt, the last run) and the GET phase (PREFIX-get.txt)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TB_HOME=${QUFLUX_TESTBED_HOME:-$HOME/.cache/quflux-testbed}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/quflux-target}
PG=${QUFLUX_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
CONCURRENCY=${CONCURRENCY:-"8 32"}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
SEED=${SEED:-10000}
GET_RATE=${GET_RATE:-1000}
GET_SECS=${GET_SECS:-30}
GET_CONNECTIONS=${GET_CONNECTIONS:-32}
MODE=${MODE:-all}
PORT=${PORT:-18437}
OHA_VERSION=1.16.0
OHA=$TB_HOME/cargo/bin/oha
BASE=http://127.0.0.1:$PORT
DB=quflux_api_bench_$$
DB_URL=$PG/$DB
WORK=$(mktemp -d)
SERVER_PID=

for tool in psql pgbench curl jq cargo; do
  command -v "$tool" >/dev/null || { echo "api.sh: $tool is not on PATH" >&2; exit 1; }
done

cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID"
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$SERVER_PID" 2>/dev/null && kill -9 "$SERVER_PID"
  fi
  psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -x "$OHA" ]; then
  echo "== installing oha $OHA_VERSION into $TB_HOME/cargo"
  CARGO_TARGET_DIR=$TB_HOME/oha-target cargo install oha --version "$OHA_VERSION" --locked \
    --root "$TB_HOME/cargo"
fi

BIN=${SERVER_BIN:-}
if [ -z "$BIN" ]; then
  echo "== building quflux-server (release)"
  (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release -q -p quflux-server)
  BIN=$TARGET/release/quflux-server
fi

echo "== database $DB"
psql -q "$PG/postgres" -c "CREATE DATABASE $DB" >/dev/null

echo "== starting quflux-server $MODE on $BASE"
env QUFLUX_BIND=127.0.0.1:$PORT QUFLUX_DATABASE_URL="$DB_URL" \
  QUFLUX_LOG=warn QUFLUX_LOG_FORMAT=text MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" \
  QUFLUX_FS_ROOT="$WORK/media" QUFLUX_OUTBOX_PATH="$WORK/outbox.jsonl" \
  "$BIN" "$MODE" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  curl -fs "$BASE/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
if ! curl -fs "$BASE/healthz" >/dev/null 2>&1; then
  echo "api.sh: the server did not start; its log:" >&2
  tail -30 "$WORK/server.log" >&2
  exit 1
fi

TOKEN=$(curl -fs "$BASE/api/v1/auth/register" -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"bench-password-1"}' | jq -r .token)
if [ -z "$TOKEN" ] || [ "$TOKEN" = null ]; then
  echo "api.sh: registering the benchmark user failed" >&2
  exit 1
fi
AUTH="Authorization: Bearer $TOKEN"

# A post of a typical size: a 265-character text and a title.
TEXT="Quflux load test: this post is about as long as a real one, with a link https://example.com/launch, two hashtags #benchmark #quflux and enough words to fill most of a tweet's 280 characters so that the JSON body, the jsonb column and the index look like production."
BODY=$(jq -cn --arg t "$TEXT" '{title: "Load test", text: $t}')

# oha_post C SECONDS|-n N: POST /api/v1/posts, oha's JSON report on stdout.
oha_post() {
  local c=$1
  shift
  "$OHA" --no-tui --output-format json -c "$c" "$@" -m POST -H "$AUTH" \
    -T application/json -d "$BODY" "$BASE/api/v1/posts"
}

echo "== seeding $SEED posts"
oha_post 8 -n "$SEED" >"$WORK/seed.json"
created=$(jq '.statusCodeDistribution["201"] // 0' "$WORK/seed.json")
if [ "$created" != "$SEED" ]; then
  echo "api.sh: seeding created $created of $SEED posts:" >&2
  jq -c '{statusCodeDistribution, errorDistribution}' "$WORK/seed.json" >&2
  exit 1
fi

# pgbench's transaction: the API's INSERT (quflux-store/src/postgres/posts.rs, INSERT_POST), its
# user, content and search text taken from a row the API wrote and sent as parameters like the
# API's (-M prepared: `:name` becomes `$n`, so the jsonb is parsed per row as for the API), and
# a UUIDv7 id like PostId::new.
cat >"$WORK/insert_post.sql" <<'SQL'
INSERT INTO posts (id, user_id, content, search_text, status, version, created_at, updated_at)
VALUES (encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing
  substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
  FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid,
  :user_id, :content, :search_text, 'draft', 0, now(), now());
SQL
PGBENCH_VARS=(
  -D "user_id=$(psql -At "$DB_URL" -c 'SELECT user_id FROM posts LIMIT 1')"
  -D "content=$(psql -At "$DB_URL" -c 'SELECT content FROM posts LIMIT 1')"
  -D "search_text=$(psql -At "$DB_URL" -c 'SELECT search_text FROM posts LIMIT 1')"
)
echo "   API body: $(printf %s "$BODY" | wc -c) bytes; stored content: $(psql -At "$DB_URL" \
  -c 'SELECT octet_length(content::text) FROM posts LIMIT 1') bytes of JSON"

# CPU accounting: the server's CPU ticks, and the machine's busy and total ticks.
server_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
# PostgreSQL's CPU ticks: its live processes, plus the postmaster's reaped children (the
# backends of closed connections, such as pgbench's).
pg_ticks() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk '$2 == "(postgres)" {
    live += $14 + $15; if ($4 == 1) reaped += $16 + $17 } END { print live + reaped }'
}
busy_pct() { # before after: busy share of the machine's CPU time between two machine_ticks
  echo "$1 $2" | awk '{ printf "%.0f", 100 * ($3 - $1) / ($4 - $2) }'
}
HZ=$(getconf CLK_TCK)
TIMEFORMAT='%U %S' # `time`: the client's own CPU seconds
client_ticks() { awk -v hz="$HZ" '{ printf "%.0f", ($1 + $2) * hz }' "$1"; }
us() { jq -n "1000000 * $1 / $HZ / ([$2, 1] | max) | round"; } # TICKS COUNT: µs of CPU each

printf '\n== POST /api/v1/posts against pgbench single-row inserts, %s s each\n' "$DURATION"
echo "(CPU per insert in microseconds: pg = PostgreSQL, cli = the load tool, srv = quflux-server;"
echo " busy = the machine's busy share during the API run, other processes included)"
printf '%-3s %-5s | %11s %6s %6s | %9s %6s %6s %6s %5s | %6s | %8s %8s\n' C round pgbench_tps \
  pg cli api_rps srv pg cli busy ratio api_p50 api_p99
# perf_start NAME / perf_stop NAME: profile the server between the two (PROFILE=prefix).
perf_start() {
  [ -n "${PROFILE:-}" ] || return 0
  perf record -q -F 999 -p "$SERVER_PID" -o "$WORK/$1.perf" >/dev/null 2>&1 &
  PERF_PID=$!
}
perf_stop() {
  [ -n "${PROFILE:-}" ] || return 0
  kill -INT "$PERF_PID"
  wait "$PERF_PID" || true
  {
    perf report -i "$WORK/$1.perf" --no-children --sort dso --stdio
    perf report -i "$WORK/$1.perf" --no-children --sort dso,sym --percent-limit 0.3 --stdio
  } >"$PROFILE-$1.txt" 2>/dev/null
}

for c in $CONCURRENCY; do
  for round in $(seq 1 "$ROUNDS"); do
    g0=$(pg_ticks)
    { time pgbench -n -M prepared -c "$c" -j 2 -T "$DURATION" "${PGBENCH_VARS[@]}" \
      -f "$WORK/insert_post.sql" "$DB_URL" >"$WORK/pgbench.out" 2>&1; } 2>"$WORK/pgbench.time" || true
    pg_tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$WORK/pgbench.out")
    if [ -z "$pg_tps" ]; then
      echo "api.sh: pgbench failed (C=$c):" >&2
      grep -iE 'error|fatal' "$WORK/pgbench.out" | sort | uniq -c | head -3 >&2
      continue
    fi
    g1=$(pg_ticks)
    s1=$(server_ticks)
    m1=$(machine_ticks)
    perf_start post
    { time oha_post "$c" -z "${DURATION}s" >"$WORK/post.json"; } 2>"$WORK/oha.time"
    perf_stop post
    m2=$(machine_ticks)
    s2=$(server_ticks)
    g2=$(pg_ticks)
    ok=$(jq '.statusCodeDistribution["201"] // 0' "$WORK/post.json")
    bad=$(jq '[.statusCodeDistribution | to_entries[] | select(.key != "201") | .value] | add // 0' \
      "$WORK/post.json")
    if [ "$bad" != 0 ]; then
      echo "api.sh: $bad POSTs did not answer 201:" >&2
      jq -c .statusCodeDistribution "$WORK/post.json" >&2
    fi
    api_rps=$(jq -n "$ok / $DURATION")
    pg_n=$(jq -n "$pg_tps * $DURATION")
    printf '%-3s %-5s | %11.0f %6s %6s | %9.0f %6s %6s %6s %4s%% | %5.0f%% | %6.2fms %6.2fms\n' \
      "$c" "$round" "$pg_tps" "$(us "$((g1 - g0))" "$pg_n")" \
      "$(us "$(client_ticks "$WORK/pgbench.time")" "$pg_n")" \
      "$api_rps" "$(us "$((s2 - s1))" "$ok")" "$(us "$((g2 - g1))" "$ok")" \
      "$(us "$(client_ticks "$WORK/oha.time")" "$ok")" \
      "$(busy_pct "$m1" "$m2")" "$(jq -n "100 * $api_rps / $pg_tps")" \
      "$(jq '.latencyPercentiles.p50 * 1000' "$WORK/post.json")" \
      "$(jq '.latencyPercentiles.p99 * 1000' "$WORK/post.json")"
  done
done

rss() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$SERVER_PID/status"; }
hwm_before=$(rss VmHWM)
rows=$(psql -At "$DB_URL" -c 'SELECT count(*) FROM posts')

printf '\n== GET /api/v1/posts?limit=20 at %s req/s for %s s (%s connections, %s posts)\n' \
  "$GET_RATE" "$GET_SECS" "$GET_CONNECTIONS" "$rows"
echo 5 >"/proc/$SERVER_PID/clear_refs" # resets VmHWM to the current RSS
(
  max=0
  while kill -0 "$SERVER_PID" 2>/dev/null && [ ! -f "$WORK/get.done" ]; do
    now=$(rss VmRSS)
    [ "${now:-0}" -gt "$max" ] && max=$now && echo "$max" >"$WORK/rss.max"
    sleep 0.2
  done
) &
SAMPLER=$!
perf_start get
s1=$(server_ticks)
"$OHA" --no-tui --output-format json -c "$GET_CONNECTIONS" -q "$GET_RATE" --latency-correction \
  -z "${GET_SECS}s" -H "$AUTH" "$BASE/api/v1/posts?limit=20" >"$WORK/get.json"
touch "$WORK/get.done"
wait "$SAMPLER"
s2=$(server_ticks)
perf_stop get
[ -z "${PROFILE:-}" ] || echo "perf profiles of the server: $PROFILE-post.txt, $PROFILE-get.txt"
jq -r '
  def ms: . * 1000 | . * 100 | round / 100 | tostring + " ms";
  "requests: \(.statusCodeDistribution | tostring), errors: \(.errorDistribution | tostring)",
  "achieved: \(.summary.requestsPerSec | round) req/s",
  "latency from the scheduled send time: p50 \(.latencyPercentiles.p50 | ms), p99 \(.latencyPercentiles.p99 | ms), p99.9 \(.latencyPercentiles["p99.9"] | ms), max \(.summary.slowest | ms)"
' "$WORK/get.json"
# The server's own view: its latency histogram for this route (from request routing to the
# response, without the time in the kernel's and oha's queues).
curl -fs "$BASE/metrics" | grep '^quflux_http_request_duration_seconds_bucket' |
  grep 'method="GET"' | grep 'route="/api/v1/posts"' | grep 'status="200"' |
  sed -n 's/.*le="\([0-9.]*\)".* \([0-9]*\)$/\1 \2/p' | sort -g |
  awk '{ le[NR] = $1; n[NR] = $2 } END {
         printf "server-side latency of those requests (quflux_http_request_duration_seconds):"
         for (i = 1; i <= NR && le[i] <= 0.05; i++) printf " <= %g ms %.2f%%", le[i] * 1000, 100 * n[i] / n[NR]
         print "" }'
get_ok=$(jq '.statusCodeDistribution["200"] // 0' "$WORK/get.json")
echo "server CPU: $(us "$((s2 - s1))" "$get_ok") us per request," \
  "$(jq -n "100 * ($s2 - $s1) / $HZ / $GET_SECS | round")% of one core"
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
echo "server RSS: GET phase peak (VmHWM) $(mib "$(rss VmHWM)"), largest sampled VmRSS" \
  "$(mib "$(cat "$WORK/rss.max" 2>/dev/null || echo 0)"); peak before, over the POST phases" \
  "$(mib "$hwm_before"); now $(mib "$(rss VmRSS)")"
if grep -qiE 'error|panic' "$WORK/server.log"; then
  echo "server log (errors):"
  grep -iE 'error|panic' "$WORK/server.log" | tail -5
fi
