# Shared by run.sh and scale.sh (sourced, after RESULTS is set): messages, results lines, the
# processes to stop on exit, wrk, starting a server and settling the database between figures.
# shellcheck shell=bash

say() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { say "error: $*"; exit 1; }
put() { printf '%s %s\n' "$1" "$2" >>"$RESULTS"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/'; }

# Every process the script starts, to stop on exit (by pid only).
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# need_wrk: installs wrk with apt-get when running as root and it is missing.
need_wrk() {
  if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing wrk (apt-get install -y wrk)"
      apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
    fi
    command -v wrk >/dev/null || die "wrk is needed (Debian/Ubuntu: apt-get install wrk)"
  fi
}

# start PREFIX DIR LOGFILE CMD...: starts CMD in DIR, waits for its "PREFIX listening on
# http://..." line, sets STARTED_PID and STARTED_URL.
start() {
  local prefix=$1 dir=$2 log=$3
  shift 3
  (cd "$dir" && exec "$@") >"$log.out" 2>"$log" &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  local _
  for _ in $(seq 1 600); do
    STARTED_URL=$(grep -o "$prefix listening on http://[0-9.:]*" "$log.out" 2>/dev/null | grep -o 'http://.*' || true)
    [ -n "$STARTED_URL" ] && return 0
    kill -0 "$STARTED_PID" 2>/dev/null || { cat "$log" >&2; die "$prefix exited at start"; }
    sleep 0.1
  done
  die "$prefix did not start in 60 s"
}

# settle DB_URL: before each measured figure on PostgreSQL, VACUUM (ANALYZE) and CHECKPOINT the
# benchmark database, as autovacuum would keep it between bursts of a real deployment. This
# machine's PostgreSQL runs with autovacuum off (run.sh records it as meta.pg_autovacuum), so
# without it every login (UPDATE users) and refresh (UPDATE sessions) of the run so far left dead
# row versions behind for the next figure, and the profile's database CPU per request moved
# between 100 and 193 µs from run to run depending on where in the run it was measured.
# First, statements of the previous figure still running (wrk gives up on a request after its
# timeout; PostgreSQL goes on until it has to send the answer) get 30 s to end, then are
# cancelled: they would load the next figure. Only this database's own backends are looked at.
# MySQL needs nothing of the kind: InnoDB's purge threads remove old row versions by themselves.
settle() {
  case "$1" in
    postgres*) ;;
    *) return 0 ;;
  esac
  local _ busy
  for _ in $(seq 1 30); do
    busy=$(psql -Atq "$1" -c "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'")
    [ "$busy" = 0 ] && break
    sleep 1
  done
  if [ "$busy" != 0 ]; then
    say "cancelling $busy statements still running"
    psql -Atq "$1" -c "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'" >/dev/null
  fi
  psql -q -v ON_ERROR_STOP=1 "$1" -c "VACUUM (ANALYZE)" -c "CHECKPOINT" >/dev/null
}
