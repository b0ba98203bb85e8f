#!/usr/bin/env bash
# HTTP load benchmark of the standalone server (usermgmt-server), with wrk, on loopback only.
#
#   benches/load/run.sh        # everything: SQLite, PostgreSQL and MySQL, Axum and Actix, better-auth
#   STORES=sqlite FRAMEWORKS=axum PEERS= benches/load/run.sh        # a part of it
#
# For each store it builds a fresh database (an SQLite file under the output directory; the
# PostgreSQL database usermgmt_bench and the MySQL/MariaDB database usermgmt_bench, each dropped
# and created again), then measures, in this order:
# the server through the first framework, the bare Axum + sqlx baseline (usermgmt-baseline, on
# the database the server just filled), the server through the second framework. Per server:
#
#   argon2      one Argon2 verify at the default cost, alone and 2 at once (usermgmt-loadkit
#               argon2), before and after the login measurement
#   login       POST /api/v1/auth/login, LOGIN_CONNS connections, verified users
#   refresh     POST /api/v1/auth/refresh, CONNS connections, each token used once
#   profile     GET /api/v1/users/profile with a bearer token, CONNS connections
#   idle probe  GET /health and GET /api/v1/users/profile, 2 connections each, paced
#   flood       login with FLOOD_CONNS connections while the same probes run, RSS sampled
#
# and for the baseline: GET /hello and GET /users/<id> (one primary-key SELECT on `users`).
#
# Then each peer of PEERS (default "better-auth"; PEERS= for none): better-auth, installed with
# npm ci into $TARGET_DIR/peers/better-auth from benches/load/peers/better-auth (the pinned
# package.json and package-lock.json and its server.mjs), on its own PostgreSQL database
# (better_auth_bench, dropped and created again) of the same server: users signed up, then its
# sign-in (LOGIN_CONNS) and its get-session with a session cookie (CONNS), with the same wrk
# settings, CPU time per request and the node process's RSS.
#
# The output directory (OUT, default target/loadbench/<date>) gets every wrk output, the
# servers' logs, results.txt (`key value` lines) and report.md (tables, ratios, targets,
# chart), which is also printed at the end. Takes about 5 minutes once built.
#
# Environment: WRK_SECS (8), FLOOD_SECS (10), PROBE_SECS (5), CONNS (16), LOGIN_CONNS (8),
# FLOOD_CONNS (64), THREADS (2), STORES ("sqlite postgres mysql"), FRAMEWORKS ("axum actix"),
# PEERS ("better-auth"), PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres: where to
# drop and create the database), PG_BENCH_DB (usermgmt_bench), MYSQL_ADMIN_URL
# (mysql://root@127.0.0.1:3306), MYSQL_BENCH_DB (usermgmt_bench), PEER_PG_DB
# (better_auth_bench), OUT, SERVER_ENV (extra NAME=value words for the server's environment,
# e.g. SERVER_ENV="MALLOC_ARENA_MAX=2"; recorded in the results).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LUA="$ROOT/benches/load/bench.lua"
WRK_SECS=${WRK_SECS:-8}
FLOOD_SECS=${FLOOD_SECS:-10}
# The probes run inside the flood, from its 2nd second to 2 s before its end.
[ "$FLOOD_SECS" -ge 5 ] || { echo "FLOOD_SECS must be at least 5 (the probes need 1 s inside the flood)" >&2; exit 1; }
PROBE_SECS=${PROBE_SECS:-5}
CONNS=${CONNS:-16}
LOGIN_CONNS=${LOGIN_CONNS:-8}
FLOOD_CONNS=${FLOOD_CONNS:-64}
THREADS=${THREADS:-2}
STORES=${STORES:-"sqlite postgres mysql"}
FRAMEWORKS=${FRAMEWORKS:-"axum actix"}
PEERS=${PEERS-"better-auth"}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_BENCH_DB=${PG_BENCH_DB:-usermgmt_bench}
MYSQL_ADMIN_URL=${MYSQL_ADMIN_URL:-mysql://root@127.0.0.1:3306}
MYSQL_BENCH_DB=${MYSQL_BENCH_DB:-usermgmt_bench}
PEER_PG_DB=${PEER_PG_DB:-better_auth_bench}
OUT=${OUT:-"$ROOT/target/loadbench/$(date +%Y%m%d-%H%M%S)"}
TARGET_DIR=${CARGO_TARGET_DIR:-"$ROOT/target"}
SERVER_ENV=${SERVER_ENV:-}
# Paced probes: one request per connection every PROBE_DELAY_MS.
PROBE_DELAY_MS=10

STARTED=$(date +%s)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RESULTS="$OUT/results.txt"
: >"$RESULTS"

# shellcheck source=benches/load/lib.sh
. "$ROOT/benches/load/lib.sh"

# --- tools -------------------------------------------------------------------------------------

need_wrk
case " $STORES $PEERS " in
  *" postgres "* | *" better-auth "*)
    command -v psql >/dev/null || die "psql is needed for the PostgreSQL part and better-auth (or STORES=sqlite PEERS=)"
    case "$PG_ADMIN_URL" in
      postgres://*@127.0.0.1:* | postgres://*@localhost:* | postgres://127.0.0.1:* | postgres://localhost:*) ;;
      *) die "PG_ADMIN_URL must point at 127.0.0.1 or localhost" ;;
    esac
    [[ "$PG_BENCH_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "PG_BENCH_DB must be a plain lower-case name"
    [[ "$PEER_PG_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "PEER_PG_DB must be a plain lower-case name"
    ;;
esac
case " $STORES " in
  *" mysql "*)
    command -v mysql >/dev/null || die "the mysql client is needed for the MySQL part (or leave mysql out of STORES)"
    # mysql://USER@HOST:PORT, loopback only, no password (the client takes it from the URL's parts).
    [[ "$MYSQL_ADMIN_URL" =~ ^mysql://([A-Za-z0-9_]+)@(127\.0\.0\.1|localhost):([0-9]+)/?$ ]] ||
      die "MYSQL_ADMIN_URL must be mysql://USER@127.0.0.1:PORT (loopback, no password)"
    MYSQL_USER=${BASH_REMATCH[1]} MYSQL_PORT=${BASH_REMATCH[3]}
    [[ "$MYSQL_BENCH_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "MYSQL_BENCH_DB must be a plain lower-case name"
    [ "$MYSQL_BENCH_DB" != test ] || die "MYSQL_BENCH_DB must not be the test suites' database"
    ;;
esac
for peer in $PEERS; do
  case "$peer" in
    better-auth) command -v npm >/dev/null && command -v node >/dev/null ||
      die "node and npm are needed for the better-auth peer (or PEERS=)" ;;
    *) die "unknown peer $peer (better-auth)" ;;
  esac
done
# The database server processes whose CPU time is counted per request, by store.
db_process() {
  case "$1" in
    postgres) echo postgres ;;
    mysql) pgrep -x mariadbd >/dev/null && echo mariadbd || echo mysqld ;;
    *) echo none ;; # SQLite runs inside the server
  esac
}
mysql_admin() { mysql --protocol=TCP -h 127.0.0.1 -P "$MYSQL_PORT" -u "$MYSQL_USER" "$@"; }

say "building (release): usermgmt-server, then usermgmt-baseline and usermgmt-loadkit"
# Two commands, so the server is built with exactly its own features (the benches crate turns on
# usermgmt-core's test-util, which would otherwise be unified into the server's build).
(cd "$ROOT" && cargo build --release -q -p usermgmt-server)
(cd "$ROOT" && cargo build --release -q -p usermgmt-benches --bin usermgmt-baseline --bin usermgmt-loadkit)
# SERVER_BIN: another build of the server to measure instead (an A/B of two commits in one hour).
SERVER_BIN="${SERVER_BIN:-$TARGET_DIR/release/usermgmt-server}"
BASELINE_BIN="$TARGET_DIR/release/usermgmt-baseline"
LOADKIT_BIN="$TARGET_DIR/release/usermgmt-loadkit"

put meta.date "$(date -u +%Y-%m-%dT%H:%MZ)"
put meta.commit "$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && git diff --quiet HEAD 2>/dev/null || echo +changes)"
put meta.cores "$(nproc)"
put meta.loadavg_start "$(loadavg)"
put meta.builds_running "$(pgrep -c rustc || true)"
put meta.wrk_secs "$WRK_SECS"
put meta.flood_secs "$FLOOD_SECS"
put meta.conns "$CONNS"
put meta.login_conns "$LOGIN_CONNS"
put meta.flood_conns "$FLOOD_CONNS"
put meta.threads "$THREADS"
put meta.server_env "${SERVER_ENV:-none}"
put meta.peers "${PEERS:-none}"
put meta.pg_autovacuum "$(psql -Atq "$PG_ADMIN_URL" -c 'SHOW autovacuum' 2>/dev/null || echo unknown)"
put meta.wrk "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2 | tr ' ' '_')"
say "load average $(loadavg); rustc processes running: $(pgrep -c rustc || true)"

# --- helpers -----------------------------------------------------------------------------------

# cpu_ticks PID...: user + system CPU time these processes have used so far, in clock ticks.
cpu_ticks() {
  local pid total=0
  for pid in "$@"; do
    [ -r "/proc/$pid/stat" ] || continue
    # Fields after the command name: utime and stime are the 12th and 13th.
    total=$((total + $(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')))
  done
  echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

# context_switches PID: one "TID COUNT" line per thread of PID: how often it has been switched
# off its core so far (voluntary and not; a thread woken by another thread's wake-up is one of
# them). grep goes on past a thread that ends while it reads.
context_switches() {
  grep -H ctxt_switches: "/proc/$1"/task/*/status 2>/dev/null |
    awk -F'[/:]' '{n[$5] += $NF} END {for (t in n) print t, n[t]}'
}

# switches_since BEFORE AFTER: the switches between two context_switches samples, thread by
# thread (a thread born since counts from 0). A thread that ended in between takes its own with
# it, so the figure is a floor, never a negative sum.
switches_since() {
  awk 'NR == FNR {before[$1] = $2; next} {d += $2 - (($1 in before) ? before[$1] : 0)} END {print d + 0}' \
    <(printf '%s\n' "$1") <(printf '%s\n' "$2")
}

# wrk_run KEY URL THREADS CONNS SECS MODE DATA [DELAY_MS]: runs wrk, keeps its output, records
# its done() lines as KEY.<name>. With CPU_PID set (the server measured), also records the CPU
# time per answered request of that process, of the database server's processes (DB_PROCESS:
# postgres, mariadbd; none for SQLite) and of wrk itself (KEY.cpu_us.server / .database / .wrk):
# what each request costs the machine, a figure that holds better than req/s when the machine is
# noisy; and the server's context switches per answered request (KEY.switches.server: its
# threads waking each other show there).
wrk_run() {
  local key=$1 url=$2 threads=$3 conns=$4 secs=$5 mode=$6 data=$7 delay=${8:-0}
  local file="$OUT/wrk/$key.txt"
  mkdir -p "$OUT/wrk"
  local server0 database0 switches0
  if [ -n "${CPU_PID:-}" ]; then
    switches0=$(context_switches "$CPU_PID")
    server0=$(cpu_ticks "$CPU_PID")
    # shellcheck disable=SC2046 # one word per pid
    database0=$(cpu_ticks $(pgrep -x "${DB_PROCESS:-none}" || true))
  fi
  # In a subshell, so its cutime/cstime (fields 16 and 17 of its stat) are wrk's CPU time.
  local wrk_ticks
  wrk_ticks=$(
    me=$BASHPID # taken here: in the pipeline below, $BASHPID would be sed's own subshell
    wrk -t "$threads" -c "$conns" -d "${secs}s" --timeout 10s -s "$LUA" "$url" \
      -- "$mode" "$data" "$threads" "$delay" >"$file" 2>&1 || exit 1
    sed 's/.*) //' "/proc/$me/stat" | awk '{print $14 + $15}'
  ) || { cat "$file" >&2; die "wrk $key failed"; }
  grep -E '^(requests|duration_s|ok_rps|p50_ms|p90_ms|p99_ms|max_ms|non2xx|socket_errors) ' "$file" |
    while read -r name value; do put "$key.$name" "$value"; done
  if [ -n "${CPU_PID:-}" ]; then
    local requests server1 database1 switches1
    server1=$(cpu_ticks "$CPU_PID")
    switches1=$(context_switches "$CPU_PID")
    # shellcheck disable=SC2046
    database1=$(cpu_ticks $(pgrep -x "${DB_PROCESS:-none}" || true))
    requests=$(awk '$1 == "requests" {print $2}' "$file")
    if [ "${requests:-0}" -gt 0 ]; then
      put "$key.cpu_us.server" "$(awk -v t=$((server1 - server0)) -v n="$requests" -v hz="$CLK_TCK" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')"
      put "$key.cpu_us.database" "$(awk -v t=$((database1 - database0)) -v n="$requests" -v hz="$CLK_TCK" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')"
      put "$key.cpu_us.wrk" "$(awk -v t="$wrk_ticks" -v n="$requests" -v hz="$CLK_TCK" 'BEGIN {printf "%.1f", t * 1e6 / hz / n}')"
      put "$key.switches.server" "$(awk -v s="$(switches_since "$switches0" "$switches1")" -v n="$requests" 'BEGIN {printf "%.2f", s / n}')"
    fi
  fi
}

stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

rss() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# sample_rss PID DIR &: keeps the largest VmRSS of PID, read every 0.2 s, in DIR/rss.max until
# DIR/rss.done exists (or PID ends).
sample_rss() {
  local pid=$1 dir=$2 max=0 now
  while kill -0 "$pid" 2>/dev/null && [ ! -e "$dir/rss.done" ]; do
    now=$(rss "$pid" VmRSS || echo 0)
    [ "${now:-0}" -gt "$max" ] && max=$now
    echo "$max" >"$dir/rss.max"
    sleep 0.2
  done
}

# --- one server --------------------------------------------------------------------------------

server_block() {
  local store=$1 fw=$2 db_url=$3
  local key="$store.$fw" dir="$OUT/$store-$fw"
  mkdir -p "$dir/avatars"
  put "$key.loadavg" "$(loadavg)"
  say "$key: starting the server (load average $(loadavg))"
  # A clean environment: no .env (the working directory is $dir), no RUST_LOG, no EMAIL_HOST
  # (mail goes to the log, where prep finds the verification links).
  # shellcheck disable=SC2086 # SERVER_ENV is split into NAME=value words on purpose
  start usermgmt-server "$dir" "$dir/server.log" env -i PATH="$PATH" NO_COLOR=1 \
    HOST=127.0.0.1 APP_PORT=0 SERVER_FRAMEWORK="$fw" DATABASE_URL="$db_url" \
    JWT_SECRET="bench-$(date +%s%N)-load-benchmark-secret-not-for-production" \
    RATE_LIMIT_MAX=1000000000 RATE_LIMIT_WINDOW=60s TRUSTED_PROXIES=127.0.0.1 \
    LOG_LEVEL='warn,usermgmt::mail=info' AVATAR_DIR="$dir/avatars" \
    EMAIL_CONFIRMATION_URL=http://127.0.0.1/api/v1/auth/verify-email \
    $SERVER_ENV "$SERVER_BIN"
  local pid=$STARTED_PID url=$STARTED_URL
  put "$key.rss.idle_kib" "$(rss "$pid" VmRSS)"

  say "$key: registering and verifying users, warming up logins"
  "$LOADKIT_BIN" prep --url "$url" --log "$dir/server.log" --out "$dir" \
    --prefix "b_${fw}_${store}" --users 64 --ips-per-user 8 --sessions 32 2>&1 | tee "$dir/prep.txt" >&2
  [ -s "$dir/login_pairs.tsv" ] || die "$key: prep wrote no login pairs"

  say "$key: one Argon2 verify at the default cost"
  "$LOADKIT_BIN" argon2 --secs 2 | while read -r name value; do put "$key.argon2.$name" "$value"; done

  settle "$db_url"
  say "$key: login ($LOGIN_CONNS connections, ${WRK_SECS} s)"
  CPU_PID=$pid wrk_run "$key.login" "$url" "$THREADS" "$LOGIN_CONNS" "$WRK_SECS" login "$dir/login_pairs.tsv"
  # Again after it: the verify time moves with the machine's load; the report takes the mean.
  "$LOADKIT_BIN" argon2 --secs 2 | while read -r name value; do put "$key.argon2_after.$name" "$value"; done
  settle "$db_url"
  say "$key: refresh ($CONNS connections, ${WRK_SECS} s)"
  CPU_PID=$pid wrk_run "$key.refresh" "$url" "$THREADS" "$CONNS" "$WRK_SECS" refresh "$dir/refresh_tokens.txt"
  settle "$db_url"
  say "$key: profile ($CONNS connections, ${WRK_SECS} s)"
  CPU_PID=$pid wrk_run "$key.profile" "$url" "$THREADS" "$CONNS" "$WRK_SECS" profile "$dir/access_tokens.txt"

  say "$key: paced probes, idle (${PROBE_SECS} s)"
  wrk_run "$key.idle.health" "$url" 1 2 "$PROBE_SECS" health - "$PROBE_DELAY_MS" &
  local h=$!
  wrk_run "$key.idle.profile" "$url" 1 2 "$PROBE_SECS" profile "$dir/access_tokens.txt" "$PROBE_DELAY_MS" &
  local p=$!
  wait "$h" "$p"

  settle "$db_url"
  say "$key: login flood ($FLOOD_CONNS connections, ${FLOOD_SECS} s) with the probes"
  put "$key.rss.before_kib" "$(rss "$pid" VmRSS)"
  put "$key.rss.hwm_before_kib" "$(rss "$pid" VmHWM)"
  sample_rss "$pid" "$dir" &
  local sampler=$!
  wrk_run "$key.flood.login" "$url" "$THREADS" "$FLOOD_CONNS" "$FLOOD_SECS" login "$dir/login_pairs.tsv" &
  local flood=$!
  sleep 2
  local probe_secs=$((FLOOD_SECS - 4))
  wrk_run "$key.flood.health" "$url" 1 2 "$probe_secs" health - "$PROBE_DELAY_MS" &
  h=$!
  wrk_run "$key.flood.profile" "$url" 1 2 "$probe_secs" profile "$dir/access_tokens.txt" "$PROBE_DELAY_MS" &
  p=$!
  put "$key.rss.during_kib" "$(sleep 3; rss "$pid" VmRSS)"
  wait "$h" "$p" "$flood"
  touch "$dir/rss.done"
  wait "$sampler"
  put "$key.rss.peak_kib" "$(cat "$dir/rss.max")"
  sleep 3
  put "$key.rss.after_kib" "$(rss "$pid" VmRSS)"
  put "$key.rss.hwm_kib" "$(rss "$pid" VmHWM)"
  put "$key.server_errors" "$(grep -c ' ERROR ' "$dir/server.log" || true)"
  stop "$pid"
  say "$key: done"
}

# --- the baseline ------------------------------------------------------------------------------

baseline_block() {
  local store=$1 db_url=$2 ids=$3
  local key="$store.baseline" dir="$OUT/$store-baseline"
  mkdir -p "$dir"
  put "$key.loadavg" "$(loadavg)"
  say "$key: bare Axum + sqlx (load average $(loadavg))"
  start usermgmt-baseline "$dir" "$dir/baseline.log" "$BASELINE_BIN" --database-url "$db_url"
  local pid=$STARTED_PID url=$STARTED_URL
  put "$key.rss.idle_kib" "$(rss "$pid" VmRSS)"
  CPU_PID=$pid wrk_run "$key.hello" "$url" "$THREADS" "$CONNS" "$WRK_SECS" hello -
  settle "$db_url"
  CPU_PID=$pid wrk_run "$key.select" "$url" "$THREADS" "$CONNS" "$WRK_SECS" select "$ids"
  stop "$pid"
}

# --- a peer ------------------------------------------------------------------------------------

# peer_block better-auth: installs the peer (npm ci, only when its lock file changed), starts it on
# a fresh database of the PostgreSQL server, signs users up, measures its sign-in and get-session
# with the settings of the server's login and profile figures, and samples its RSS throughout.
peer_block() {
  local peer=$1 key="peer.better_auth" dir="$OUT/peer-better-auth"
  local src="$ROOT/benches/load/peers/better-auth" install="$TARGET_DIR/peers/better-auth"
  mkdir -p "$dir" "$install"
  if ! cmp -s "$src/package-lock.json" "$install/package-lock.json" || [ ! -d "$install/node_modules" ]; then
    say "$peer: npm ci into $install"
    cp "$src/package.json" "$src/package-lock.json" "$install/"
    (cd "$install" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >"$dir/npm.log" 2>&1) ||
      { cat "$dir/npm.log" >&2; die "npm ci of $peer failed"; }
  fi
  cp "$src/server.mjs" "$install/"
  put "$key.version" "$(cd "$install" && node -p 'require("./node_modules/better-auth/package.json").version')"
  put "$key.node" "$(node --version)"
  say "$peer: a fresh database $PEER_PG_DB"
  psql -q -v ON_ERROR_STOP=1 "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $PEER_PG_DB WITH (FORCE)" >/dev/null
  psql -q -v ON_ERROR_STOP=1 "$PG_ADMIN_URL" -c "CREATE DATABASE $PEER_PG_DB" >/dev/null
  local db_url="${PG_ADMIN_URL%/*}/$PEER_PG_DB"
  put "$key.loadavg" "$(loadavg)"
  start better-auth "$install" "$dir/server.log" env -i PATH="$PATH" NODE_ENV=production \
    DATABASE_URL="$db_url" BETTER_AUTH_SECRET="bench-$(date +%s%N)-load-benchmark-secret-not-for-production" \
    BETTER_AUTH_TELEMETRY=0 node server.mjs
  local pid=$STARTED_PID url=$STARTED_URL
  put "$key.rss.idle_kib" "$(rss "$pid" VmRSS)"
  sample_rss "$pid" "$dir" &
  local sampler=$!
  say "$peer: signing users up and in"
  "$LOADKIT_BIN" peer-prep --url "$url" --out "$dir" --users 16 --sessions 32 2>&1 | tee "$dir/prep.txt" >&2
  [ -s "$dir/session_cookies.txt" ] || die "$peer: prep wrote no session cookies"
  DB_PROCESS=postgres
  settle "$db_url"
  say "$peer: sign-in ($LOGIN_CONNS connections, ${WRK_SECS} s)"
  CPU_PID=$pid wrk_run "$key.login" "$url" "$THREADS" "$LOGIN_CONNS" "$WRK_SECS" ba_login "$dir/emails.txt"
  settle "$db_url"
  say "$peer: get-session ($CONNS connections, ${WRK_SECS} s)"
  CPU_PID=$pid wrk_run "$key.session" "$url" "$THREADS" "$CONNS" "$WRK_SECS" ba_session "$dir/session_cookies.txt"
  touch "$dir/rss.done"
  wait "$sampler"
  put "$key.rss.peak_kib" "$(cat "$dir/rss.max")"
  put "$key.rss.hwm_kib" "$(rss "$pid" VmHWM)"
  stop "$pid"
  say "$peer: done"
}

# --- the run -----------------------------------------------------------------------------------

read -r -a FWS <<<"$FRAMEWORKS"
for store in $STORES; do
  case "$store" in
    sqlite)
      mkdir -p "$OUT/db"
      rm -f "$OUT/db/bench.db" "$OUT/db/bench.db-wal" "$OUT/db/bench.db-shm"
      server_url="sqlite://$OUT/db/bench.db?mode=rwc"
      baseline_url="sqlite://$OUT/db/bench.db?mode=rw"
      ;;
    postgres)
      say "postgres: a fresh database $PG_BENCH_DB"
      psql -q -v ON_ERROR_STOP=1 "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $PG_BENCH_DB WITH (FORCE)" >/dev/null
      psql -q -v ON_ERROR_STOP=1 "$PG_ADMIN_URL" -c "CREATE DATABASE $PG_BENCH_DB" >/dev/null
      server_url="${PG_ADMIN_URL%/*}/$PG_BENCH_DB"
      baseline_url=$server_url
      ;;
    mysql)
      say "mysql: a fresh database $MYSQL_BENCH_DB"
      mysql_admin -e "DROP DATABASE IF EXISTS $MYSQL_BENCH_DB; CREATE DATABASE $MYSQL_BENCH_DB"
      put meta.mysql_version "$(mysql_admin -Nse 'SELECT VERSION()')"
      server_url="${MYSQL_ADMIN_URL%/}/$MYSQL_BENCH_DB"
      baseline_url=$server_url
      ;;
    *) die "unknown store $store (sqlite, postgres or mysql)" ;;
  esac
  DB_PROCESS=$(db_process "$store")
  server_block "$store" "${FWS[0]}" "$server_url"
  baseline_block "$store" "$baseline_url" "$OUT/$store-${FWS[0]}/user_ids.txt"
  for fw in "${FWS[@]:1}"; do
    server_block "$store" "$fw" "$server_url"
  done
done

for peer in $PEERS; do
  peer_block "$peer"
done

put meta.loadavg_end "$(loadavg)"
put meta.duration_s "$(($(date +%s) - STARTED))"
"$LOADKIT_BIN" report "$RESULTS" >"$OUT/report.md"
cat "$OUT/report.md"
say "results: $RESULTS; report: $OUT/report.md"
