#!/usr/bin/env bash
# Contract test: start the standalone server on a fresh SQLite file (loopback only), then let
# Schemathesis (pip install schemathesis) fuzz it from the server's own OpenAPI document, with
# an administrator's token so the authenticated operations are reached too. Bounded in time.
#
#   examples/contract/run.sh [extra schemathesis options]
#   SERVER_FRAMEWORK=actix examples/contract/run.sh        # through the Actix adapter
#   CONTRACT_DATABASE_URL=postgres://postgres@127.0.0.1:5432/usermgmt_contract \
#     examples/contract/run.sh                             # on PostgreSQL (the database is
#                                                          # dropped and created afresh)
#
# Every rate limit is set out of reach, so the routes behind the sensitive limits (login,
# register, 2FA, mail) are fuzzed, not answered 429.
#
# Operations that end the administrator's own session or account (logout, session revocation,
# account deactivate/delete) are left out of the authenticated run, or the token would die
# early and the rest would only see 401.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT="${CONTRACT_PORT:-3977}"
WORK="$(mktemp -d)"
trap 'kill "${SERVER_PID:-}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

cargo build -q -p usermgmt-server
DATABASE_URL="${CONTRACT_DATABASE_URL:-sqlite://$WORK/contract.db?mode=rwc}"
case "$DATABASE_URL" in
  postgres://*@127.0.0.1:*/* | postgres://*@localhost:*/*)
    DB_NAME="${DATABASE_URL##*/}"
    [[ "$DB_NAME" =~ ^[a-z_][a-z0-9_]*$ && "$DB_NAME" != test ]] ||
      { echo "CONTRACT_DATABASE_URL: a plain database name other than 'test'" >&2; exit 2; }
    psql -q -v ON_ERROR_STOP=1 "${DATABASE_URL%/*}/postgres" \
      -c "DROP DATABASE IF EXISTS $DB_NAME WITH (FORCE)" -c "CREATE DATABASE $DB_NAME"
    ;;
  sqlite:*) ;;
  *) echo "CONTRACT_DATABASE_URL: SQLite, or PostgreSQL on loopback" >&2; exit 2 ;;
esac
ADMIN_PASSWORD='Contract-Admin-1!'
DATABASE_URL="$DATABASE_URL" APP_PORT="$PORT" \
  ADMIN_EMAIL=admin@example.com ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  RATE_LIMIT_MAX=1000000 RATE_LIMIT_LOGIN=1000000/1m RATE_LIMIT_TWO_FACTOR=1000000/1m \
  RATE_LIMIT_EMAIL=1000000/1m RATE_LIMIT_AVAILABILITY=1000000/1m RATE_LIMIT_REGISTER=1000000/1m RATE_LIMIT_API_KEY=1000000/1m \
  HASH_MEMORY_KIB=8192 HASH_ITERATIONS=1 \
  AVATAR_DIR="$WORK/avatars" LOG_LEVEL=warn \
  target/debug/usermgmt-server >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 50); do
  curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break
  sleep 0.2
done

TOKEN=$(curl -fs "http://127.0.0.1:$PORT/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"admin@example.com\",\"password\":\"$ADMIN_PASSWORD\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["tokens"]["accessToken"])')

status=0
timeout 900 schemathesis --config-file examples/contract/schemathesis.toml run \
  "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  --max-examples "${CONTRACT_EXAMPLES:-25}" --workers 1 \
  --exclude-path-regex 'logout|/account/(deactivate|delete|permanent)|sessions/(others|\{)' \
  --header "Authorization: Bearer $TOKEN" "$@" || status=$?
if [ "$status" != 0 ]; then
  echo "the server's errors:"; grep -n "ERROR" "$WORK/server.log" | tail -n 20 || true
fi
if grep -q "panicked\|handler panicked" "$WORK/server.log"; then
  echo "the server logged a panic:"; grep -n "panicked" "$WORK/server.log"; status=1
fi
exit "$status"
