# Shared by the testbed scripts (sourced): a background server tracked by its pid file.
# The sourcing script defines `healthy` (does the server answer?) before calling these.

# tb_wait_healthy NAME PIDFILE LOG TRIES: waits (TRIES × 0.1 s at most) until `healthy`
# answers; if the process dies or time runs out, shows the log's tail, stops it and fails.
tb_wait_healthy() {
  local name=$1 pidfile=$2 log=$3 tries=$4
  for _ in $(seq 1 "$tries"); do
    if healthy; then
      return 0
    fi
    [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 0.1
  done
  echo "$name: failed to start; last lines of $log:" >&2
  tail -30 "$log" >&2 || true
  tb_stop "$name" "$pidfile" >/dev/null || true
  return 1
}

# tb_stop NAME PIDFILE: ends only the process in PIDFILE (TERM, then KILL after 5 s).
tb_stop() {
  local name=$1 pidfile=$2 pid
  if [ ! -f "$pidfile" ]; then
    echo "$name: not running"
    return 0
  fi
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
  fi
  rm -f "$pidfile"
  echo "$name: stopped"
}
