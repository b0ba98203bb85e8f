#!/usr/bin/env bash
# Scale on PostgreSQL (issue 22, item 5): the same HTTP figures on a small and a big generated
# database, and the ratio of their p99 latencies (the target: big ÷ small ≤ 2).
#
#   benches/load/scale.sh                       # 10 000 users, then 1 000 000 (about an hour to fill)
#   SIZES=10000 benches/load/scale.sh           # one size
#   REUSE=1 benches/load/scale.sh               # keep databases already filled to their size
#
# For each size N of SIZES: the PostgreSQL database usermgmt_scale_<N as 10k, 1m> is dropped and
# created again (unless REUSE=1 and it already holds N users), migrated by the server
# (`usermgmt-server migrate`) and filled by benches/sql/scale.sql with N users, 5 sessions and
# 50 audit rows per user (fill time and database size are recorded). Then the release server
# (Axum) is started on it as benches/load/run.sh starts it, plus ADMIN_EMAIL/ADMIN_PASSWORD so it
# creates an administrator at start; `usermgmt-loadkit prep` registers, verifies and logs in 16
# benchmark users (on top of the generated ones); the administrator logs in once; and wrk
# measures, each figure after a VACUUM (ANALYZE) and CHECKPOINT as in run.sh:
#
#   login, refresh, profile    as in run.sh (the benchmark users)
#   search_term                GET /api/v1/admin/users?q=scale4242 (an e-mail fragment)
#   search_all                 GET /api/v1/admin/users (no term: page 1, newest first)
#   search_late                GET /api/v1/admin/users?page=450 (offset 8 980: within 10k)
#   audit_first                GET /api/v1/audit (page 1, newest first)
#   audit_user                 GET /api/v1/audit?userId=<generated user 42>
#   audit_late                 GET /api/v1/audit?page=500
#   dashboard                  GET /api/v1/admin/dashboard
#
# OUT (default target/loadbench/scale-<date>) gets every wrk output, the server logs and
# results.txt (`key value` lines: <size>.<figure>.p50_ms/.p99_ms/.ok_rps/.socket_errors/...,
# for the admin and audit figures <size>.<figure>.single_ms (one request alone, before wrk),
# <size>.fill_s, <size>.db_size, and ratio.<figure>.p99 = last size ÷ first size, "none" when
# the last size had no answer within wrk's 10 s timeout).
#
# Environment: SIZES ("10000 1000000"), WRK_SECS (8), CONNS (16), LOGIN_CONNS (8), THREADS (2),
# PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres), DB_PREFIX (usermgmt_scale), REUSE
# (0), KEEP (1: leave the databases for the next REUSE=1 run; 0 drops them at the end), OUT.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LUA="$ROOT/benches/load/bench.lua"
SIZES=${SIZES:-"10000 1000000"}
WRK_SECS=${WRK_SECS:-8}
CONNS=${CONNS:-16}
LOGIN_CONNS=${LOGIN_CONNS:-8}
THREADS=${THREADS:-2}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB_PREFIX=${DB_PREFIX:-usermgmt_scale}
REUSE=${REUSE:-0}
KEEP=${KEEP:-1}
OUT=${OUT:-"$ROOT/target/loadbench/scale-$(date +%Y%m%d-%H%M%S)"}
TARGET_DIR=${CARGO_TARGET_DIR:-"$ROOT/target"}
ADMIN_EMAIL=scale-admin@bench.test
ADMIN_PASSWORD=Scale-Admin-Passw0rd!

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RESULTS="$OUT/results.txt"
: >"$RESULTS"

# shellcheck source=benches/load/lib.sh
. "$ROOT/benches/load/lib.sh"

# 10000 -> 10k, 1000000 -> 1m: the database and result names.
label() {
  local n=$1
  if [ $((n % 1000000)) -eq 0 ]; then echo "$((n / 1000000))m"
  elif [ $((n % 1000)) -eq 0 ]; then echo "$((n / 1000))k"
  else echo "$n"; fi
}

need_wrk
command -v psql >/dev/null || die "psql is needed"
case "$PG_ADMIN_URL" in
  postgres://*@127.0.0.1:* | postgres://*@localhost:*) ;;
  *) die "PG_ADMIN_URL must point at 127.0.0.1 or localhost" ;;
esac
[[ "$DB_PREFIX" =~ ^[a-z_][a-z0-9_]*$ ]] || die "DB_PREFIX must be a plain lower-case name"

say "building (release): usermgmt-server, then usermgmt-loadkit"
(cd "$ROOT" && cargo build --release -q -p usermgmt-server)
(cd "$ROOT" && cargo build --release -q -p usermgmt-benches --bin usermgmt-loadkit)
SERVER_BIN="$TARGET_DIR/release/usermgmt-server"
LOADKIT_BIN="$TARGET_DIR/release/usermgmt-loadkit"

put meta.date "$(date -u +%Y-%m-%dT%H:%MZ)"
put meta.commit "$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$ROOT" && git diff --quiet HEAD 2>/dev/null || echo +changes)"
put meta.cores "$(nproc)"
put meta.loadavg_start "$(loadavg)"
put meta.wrk_secs "$WRK_SECS"
put meta.conns "$CONNS"
put meta.login_conns "$LOGIN_CONNS"
put meta.postgres "$(psql -Atq "$PG_ADMIN_URL" -c 'SHOW server_version')"

# The same figures as run.sh's wrk_run (without the CPU accounting): KEY URL CONNS MODE DATA [PATH].
wrk_run() {
  local key=$1 url=$2 conns=$3 mode=$4 data=$5 path=${6:-}
  local file="$OUT/wrk/$key.txt"
  mkdir -p "$OUT/wrk"
  wrk -t "$THREADS" -c "$conns" -d "${WRK_SECS}s" --timeout 10s -s "$LUA" "$url" \
    -- "$mode" "$data" "$THREADS" 0 $path >"$file" 2>&1 || { cat "$file" >&2; die "wrk $key failed"; }
  # socket_errors: with the 10 s timeout of wrk, a request that took longer is counted here
  # (and in no latency).
  grep -E '^(requests|ok_rps|p50_ms|p99_ms|max_ms|non2xx|socket_errors) ' "$file" |
    while read -r name value; do put "$key.$name" "$value"; done
  say "$key: $(awk '$1 == "p50_ms" || $1 == "p99_ms" || $1 == "ok_rps" || $1 == "non2xx" {printf "%s %s  ", $1, $2}' "$file")"
}

# single KEY URL PATH TOKEN: one request alone (curl, 120 s at most) before the figure: what one
# answer costs without 15 others queued beside it, and a figure still when wrk's 10 s timeout
# leaves it none.
single() {
  local ms
  ms=$(curl -s -o /dev/null -m 120 -w '%{http_code} %{time_total}' -H "Authorization: Bearer $4" "$2$3" |
    awk '{printf "%s %.1f", $1, $2 * 1000}')
  put "$1.single_status" "${ms% *}"
  put "$1.single_ms" "${ms#* }"
}

# fill N DB_URL DB: a fresh database of N generated users (or, with REUSE=1, the one there).
fill() {
  local n=$1 db_url=$2 db=$3 key=$4 have
  have=$(psql -Atq "$PG_ADMIN_URL" -c "SELECT 1 FROM pg_database WHERE datname = '$db'")
  if [ "$REUSE" = 1 ] && [ "$have" = 1 ] &&
    [ "$(psql -Atq "$db_url" -c "SELECT count(*) >= $n FROM users" 2>/dev/null)" = t ]; then
    say "$key: reusing $db"
    put "$key.fill_s" reused
  else
    say "$key: a fresh database $db, migrated, filled with $n users (benches/sql/scale.sql)"
    psql -q -v ON_ERROR_STOP=1 "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
    env -i PATH="$PATH" DATABASE_URL="$db_url" "$SERVER_BIN" migrate >"$OUT/$key-migrate.log" 2>&1 ||
      { cat "$OUT/$key-migrate.log" >&2; die "migrate failed"; }
    local t0=$SECONDS
    psql -X -h 127.0.0.1 -v users="$n" -f "$ROOT/benches/sql/scale.sql" "$db_url" >"$OUT/$key-fill.log" 2>&1 ||
      { tail -20 "$OUT/$key-fill.log" >&2; die "scale.sql failed"; }
    put "$key.fill_s" $((SECONDS - t0))
  fi
  put "$key.db_size" "$(psql -Atq "$db_url" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"
  put "$key.rows" "$(psql -Atq "$db_url" -c "SELECT (SELECT count(*) FROM users) || '/' || (SELECT count(*) FROM sessions) || '/' || (SELECT count(*) FROM audit_logs)")"
}

measure() {
  local n=$1 key db db_url dir
  key=$(label "$n")
  db="${DB_PREFIX}_$key"
  db_url="${PG_ADMIN_URL%/*}/$db"
  dir="$OUT/$key"
  mkdir -p "$dir/avatars"
  fill "$n" "$db_url" "$db" "$key"

  put "$key.loadavg" "$(loadavg)"
  say "$key: starting the server (load average $(loadavg))"
  start usermgmt-server "$dir" "$dir/server.log" env -i PATH="$PATH" NO_COLOR=1 \
    HOST=127.0.0.1 APP_PORT=0 SERVER_FRAMEWORK=axum DATABASE_URL="$db_url" \
    JWT_SECRET="scale-$(date +%s%N)-load-benchmark-secret-not-for-production" \
    RATE_LIMIT_MAX=1000000000 RATE_LIMIT_WINDOW=60s TRUSTED_PROXIES=127.0.0.1 \
    LOG_LEVEL='warn,usermgmt::mail=info' AVATAR_DIR="$dir/avatars" \
    EMAIL_CONFIRMATION_URL=http://127.0.0.1/api/v1/auth/verify-email \
    ADMIN_EMAIL="$ADMIN_EMAIL" ADMIN_PASSWORD="$ADMIN_PASSWORD" ADMIN_USERNAME=scale_admin \
    "$SERVER_BIN"
  local url=$STARTED_URL pid=$STARTED_PID

  say "$key: registering and verifying the benchmark users"
  # A prefix of its own per run: a reused database keeps the users of earlier runs.
  "$LOADKIT_BIN" prep --url "$url" --log "$dir/server.log" --out "$dir" \
    --prefix "sc$(date +%H%M%S)" --users 16 --ips-per-user 32 --sessions 32 2>&1 | tee "$dir/prep.txt" >&2
  [ -s "$dir/login_pairs.tsv" ] || die "$key: prep wrote no login pairs"

  # The administrator's access token (15 minutes: the admin figures follow right away), one
  # line per wrk thread; its login comes through an address of its own, like the others.
  curl -sf -H 'Content-Type: application/json' -H 'X-Forwarded-For: 198.19.255.1' \
    -d "{\"identifier\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" "$url/api/v1/auth/login" |
    grep -o '"accessToken":"[^"]*"' | cut -d'"' -f4 >"$dir/admin_token.txt"
  [ -s "$dir/admin_token.txt" ] || die "$key: the administrator could not log in"
  local token _
  token=$(cat "$dir/admin_token.txt")
  for _ in $(seq 2 "$THREADS"); do echo "$token" >>"$dir/admin_token.txt"; done
  local user42
  user42=$(psql -Atq "$db_url" -c "SELECT id FROM users WHERE email LIKE 'scale42@%'")
  [ -n "$user42" ] || die "$key: no generated user 42"

  settle "$db_url"
  wrk_run "$key.login" "$url" "$LOGIN_CONNS" login "$dir/login_pairs.tsv"
  settle "$db_url"
  wrk_run "$key.refresh" "$url" "$CONNS" refresh "$dir/refresh_tokens.txt"
  settle "$db_url"
  wrk_run "$key.profile" "$url" "$CONNS" profile "$dir/access_tokens.txt"
  local figure path
  while read -r figure path; do
    settle "$db_url"
    single "$key.$figure" "$url" "$path" "$token"
    wrk_run "$key.$figure" "$url" "$CONNS" get "$dir/admin_token.txt" "$path"
  done <<EOF
search_term /api/v1/admin/users?q=scale4242
search_all /api/v1/admin/users
search_late /api/v1/admin/users?page=450
audit_first /api/v1/audit
audit_user /api/v1/audit?userId=$user42
audit_late /api/v1/audit?page=500
dashboard /api/v1/admin/dashboard
EOF
  put "$key.server_errors" "$(grep -c ' ERROR ' "$dir/server.log" || true)"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "$KEEP" = 0 ]; then
    psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  fi
  say "$key: done"
}

read -r -a NS <<<"$SIZES"
for n in "${NS[@]}"; do measure "$n"; done

put meta.loadavg_end "$(loadavg)"
if [ "${#NS[@]}" -ge 2 ]; then
  small=$(label "${NS[0]}") big=$(label "${NS[${#NS[@]} - 1]}")
  printf '\n%-12s %10s %10s %10s %10s %7s %10s %10s %8s\n' figure "$small p50" "$small p99" "$big p50" "$big p99" ratio \
    "$small 1" "$big 1" "$big err" >&2
  for figure in login refresh profile search_term search_all search_late audit_first audit_user audit_late dashboard; do
    ratio=$(awk -v s="$small.$figure.p99_ms" -v b="$big.$figure.p99_ms" \
      '$1 == s {x = $2} $1 == b {y = $2} END {if (x > 0 && y > 0) printf "%.2f", y / x; else printf "none"}' "$RESULTS")
    put "ratio.$figure.p99" "$ratio"
    awk -v f="$figure" -v s="$small" -v b="$big" -v r="$ratio" '
      $1 == s "." f ".p50_ms" {a = $2} $1 == s "." f ".p99_ms" {c = $2}
      $1 == b "." f ".p50_ms" {d = $2} $1 == b "." f ".p99_ms" {e = $2}
      $1 == s "." f ".single_ms" {g = $2} $1 == b "." f ".single_ms" {h = $2}
      $1 == b "." f ".socket_errors" {k = $2}
      END {printf "%-12s %10s %10s %10s %10s %7s %10s %10s %8s\n", f, a, c, d, e, r, g, h, k}' "$RESULTS" >&2
  done
fi
say "results: $RESULTS"
