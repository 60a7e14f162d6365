#!/usr/bin/env bash
# Schemathesis (PyPI) against /api/openapi.json of a small seeded demo city, one command:
#
#   scripts/schemathesis.sh [extra schemathesis run options]
#
# Seeds a demo city (300 requests) into a temporary directory, serves it with the abuse limits
# raised (schemathesis is one client address sending fast), signs in as each role in $ROLES and
# runs schemathesis with that role's bearer token. The checks: no server error (5xx), status
# codes, content types and response bodies as documented. Exits non-zero on any failure.
#
# Environment: MINYI (the binary; built with cargo when unset), SCHEMATHESIS (the command; a
# virtualenv under the target directory when unset and none is on PATH), ROLES (default
# "dispatcher admin"), MAX_EXAMPLES (per operation, default 30), SEED (default 1),
# PHASES (default examples,coverage,fuzzing), REPORT_DIR (keep schemathesis's JSON reports).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
roles="${ROLES:-dispatcher admin}"
max_examples="${MAX_EXAMPLES:-30}"
seed="${SEED:-1}"
phases="${PHASES:-examples,coverage,fuzzing}"
checks="not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"

if [ -z "${MINYI:-}" ]; then
  cargo build --quiet -p minyi --manifest-path "$root/Cargo.toml"
  MINYI="$target/debug/minyi"
fi
if [ -z "${SCHEMATHESIS:-}" ]; then
  if command -v schemathesis >/dev/null; then
    SCHEMATHESIS=schemathesis
  else
    venv="$target/schemathesis-venv"
    if [ ! -x "$venv/bin/schemathesis" ]; then
      python3 -m venv "$venv"
      "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5"
    fi
    SCHEMATHESIS="$venv/bin/schemathesis"
  fi
fi

work="$(mktemp -d)"
server=""
cleanup() {
  local rc=$?
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

started=$(date +%s)
echo "seeding a small demo city in $work/data"
"$MINYI" demo --data-dir "$work/data" --seed-only --requests 300 >/dev/null 2>"$work/seed.log" \
  || { cat "$work/seed.log" >&2; exit 2; }
MINYI_LOG=warn "$MINYI" serve --data-dir "$work/data" --model "$work/data/model.bin" \
  --listen 127.0.0.1:0 \
  --intake-burst 1000000 --intake-refill-ms 1 --login-burst 1000000 --login-refill-ms 1 \
  2>"$work/server.log" &
server=$!
address=""
for _ in $(seq 1 600); do
  address="$(sed -n 's|^minyi serving on \(http://[^ ]*\)/ .*|\1|p' "$work/server.log")"
  [ -n "$address" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 2; }
  sleep 0.2
done
[ -n "$address" ] || { echo "the server did not start" >&2; exit 2; }
echo "serving on $address"

token() {
  python3 - "$work/data/demo-credentials.json" "$1" "$address" <<'EOF'
import json, sys, urllib.request
credentials, role, address = sys.argv[1:]
account = json.load(open(credentials))["accounts"][role]
body = json.dumps({"username": account["username"], "password": account["password"]}).encode()
request = urllib.request.Request(address + "/api/v1/auth/login", data=body,
                                 headers={"content-type": "application/json"})
print(json.load(urllib.request.urlopen(request))["token"])
EOF
}

status=0
for role in $roles; do
  echo "== schemathesis as $role"
  report=()
  if [ -n "${REPORT_DIR:-}" ]; then
    mkdir -p "$REPORT_DIR"
    report=(--report json --report-json-path "$REPORT_DIR/schemathesis-$role.json")
  fi
  # Signing out would end the session the run uses.
  "$SCHEMATHESIS" run "$address/api/openapi.json" \
    --header "Authorization: Bearer $(token "$role")" \
    --checks "$checks" \
    --phases "$phases" \
    --max-examples "$max_examples" \
    --seed "$seed" \
    --workers 1 \
    --request-timeout 120 \
    --generation-database none \
    --exclude-path /api/v1/auth/logout \
    --no-color \
    "${report[@]}" "$@" || status=$?
done
if grep -q "panicked" "$work/server.log"; then
  echo "the server panicked:" >&2
  grep -A5 "panicked" "$work/server.log" >&2
  status=1
fi
echo "schemathesis finished in $(( $(date +%s) - started )) s with status $status"
exit "$status"
