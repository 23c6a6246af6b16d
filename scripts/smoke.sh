#!/usr/bin/env bash
# Smoke test of a deployed (or local) referral tracker, end to end through its one HTTP surface:
# mint a link, click it, sign up with the token, convert, and see the referral rewarded; then
# erase both test customers (also when a step fails), so runs do not pile up and the next run's
# friend is not taken for this one's.
#
#   RFT_SIGNING_SECRET=whsec_... scripts/smoke.sh https://<id>.lambda-url.eu-west-2.on.aws
#
# Needs bash, curl and openssl (plus coreutils). Every store call is signed as Standard Webhooks v1
# (docs/openapi.yaml) with the signing secret the deployment uses.
#
# Optional environment:
#   RFT_SMOKE_EMAIL          the friend's address, where the one email of a run (the friend's
#                            thank-you) goes (default success@simulator.amazonses.com: SES's
#                            mailbox simulator accepts it, in the sandbox too, and never bounces).
#                            The referrer has none. An address can be referred once per
#                            deployment: erasure keeps that memory (docs/invariants.md, invariant
#                            12), so a later run needs another address, e.g.
#                            ooto@simulator.amazonses.com (a "+label" is the same person).
#   RFT_SMOKE_MIN_CLICK_AGE  seconds to let pass between click and conversion (default 35; the
#                            screen holds conversions that come sooner than
#                            screen.min_click_to_conversion, 30s in settings.example.toml)
#   RFT_SMOKE_TIMEOUT        seconds to wait for each state change (default 60)
set -euo pipefail

usage() {
  echo "usage: RFT_SIGNING_SECRET=whsec_... $0 BASE_URL" >&2
  exit 2
}
[[ $# -eq 1 ]] || usage
BASE_URL=${1%/}
SECRET=${RFT_SIGNING_SECRET:-}
[[ $SECRET == whsec_* ]] || { echo "error: set RFT_SIGNING_SECRET to the signing secret (whsec_...)" >&2; exit 2; }
EMAIL=${RFT_SMOKE_EMAIL:-success@simulator.amazonses.com}
[[ $EMAIL =~ ^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$ ]] || { echo "error: RFT_SMOKE_EMAIL is not an email address" >&2; exit 2; }
MIN_CLICK_AGE=${RFT_SMOKE_MIN_CLICK_AGE:-35}
TIMEOUT=${RFT_SMOKE_TIMEOUT:-60}

# The HMAC key is the base64 after "whsec_", as hex for openssl.
KEY_HEX=$(printf '%s' "${SECRET#whsec_}" | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \n')
[[ -n $KEY_HEX ]] || { echo "error: RFT_SIGNING_SECRET is not whsec_ followed by base64" >&2; exit 2; }

WORK=$(mktemp -d)
CREATED=()
# Erases the test customers created so far (best effort: a failed erase is reported, not fatal).
cleanup() {
  local status=$? customer
  for customer in "${CREATED[@]}"; do
    signed POST "/api/customers/$customer/erase" || true
    [[ ${STATUS:-} == 200 ]] && echo "    erased $customer" || echo "    could not erase $customer (HTTP ${STATUS:-none}): erase it by hand" >&2
  done
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }
ok() { printf '    ok: %s\n' "$*"; }
fail() {
  printf '    FAIL: %s\n' "$*" >&2
  exit 1
}

# Prints the string value of "key" in a flat JSON object (enough for these replies).
json_field() {
  local re="\"$1\"[[:space:]]*:[[:space:]]*\"([^\"]*)\""
  if [[ $2 =~ $re ]]; then printf '%s' "${BASH_REMATCH[1]}"; fi
}

# signed METHOD PATH [BODY]: a Standard Webhooks v1 signed request. Sets STATUS and BODY.
signed() {
  local method=$1 path=$2 body=${3:-}
  local id ts sig
  id="msg_smoke_$(openssl rand -hex 12)"
  ts=$(date +%s)
  sig=$(printf '%s.%s.%s' "$id" "$ts" "$body" |
    openssl dgst -sha256 -mac HMAC -macopt "hexkey:$KEY_HEX" -binary | openssl base64 -A)
  local args=(-sS --max-time 20 -o "$WORK/body" -w '%{http_code}' -X "$method"
    -H "webhook-id: $id" -H "webhook-timestamp: $ts" -H "webhook-signature: v1,$sig")
  if [[ -n $body ]]; then
    args+=(-H 'content-type: application/json' --data-binary "$body")
  fi
  STATUS=$(curl "${args[@]}" "$BASE_URL$path") || { echo "    $method $path: request failed" >&2; return 1; }
  BODY=$(cat "$WORK/body")
}

expect_status() {
  local want
  for want in "$@"; do [[ $STATUS == "$want" ]] && return 0; done
  fail "expected HTTP $* but got $STATUS: $BODY"
}

# wait_for_state CUSTOMER STATE: polls GET /api/referrals/CUSTOMER until it is in STATE.
wait_for_state() {
  local customer=$1 want=$2 deadline state=""
  deadline=$(($(date +%s) + TIMEOUT))
  while (($(date +%s) < deadline)); do
    signed GET "/api/referrals/$customer" || fail "request failed"
    if [[ $STATUS == 200 ]]; then
      state=$(json_field state "$BODY")
      [[ $state == "$want" ]] && { ok "state $state"; return 0; }
      if [[ $want == pending && $state == rewarded ]]; then
        fail "this friend address was referred (and paid) in an earlier run: erasure keeps that memory, so the new sign-up joined the old referral; run again with another RFT_SMOKE_EMAIL"
      fi
      case $state in
        held | blocked | rejected | expired) fail "referral is $state, not $want: $BODY" ;;
      esac
    elif [[ $STATUS != 404 ]]; then
      fail "GET /api/referrals/$customer: HTTP $STATUS: $BODY"
    fi
    sleep 2
  done
  fail "no referral in state $want for $customer after ${TIMEOUT}s (last: HTTP $STATUS ${state:-}; check the queues' DLQs and the attributor/rewarder logs)"
}

RUN="$(date +%s)_$(openssl rand -hex 3)"
REFERRER="smoke_referrer_$RUN"
FRIEND="smoke_friend_$RUN"

step "GET /healthz"
STATUS=$(curl -sS --max-time 20 -o "$WORK/body" -w '%{http_code}' "$BASE_URL/healthz") || fail "cannot reach $BASE_URL"
[[ $STATUS == 200 ]] || fail "HTTP $STATUS: $(cat "$WORK/body")"
ok "200"

step "POST /api/links for $REFERRER"
CREATED+=("$REFERRER")
signed POST /api/links "{\"customer_id\":\"$REFERRER\",\"first_name\":\"Smoke\"}" || fail "request failed"
expect_status 201 200
CODE=$(json_field code "$BODY")
URL=$(json_field url "$BODY")
[[ $CODE =~ ^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$ ]] || fail "no valid code in reply: $BODY"
ok "HTTP $STATUS, code $CODE, url $URL"

step "GET /r/$CODE (a friend's browser, not following the redirect)"
HEADERS=$(curl -sS --max-time 20 -o /dev/null -D - -A 'Mozilla/5.0 (X11; Linux x86_64) rft-smoke' "$BASE_URL/r/$CODE" | tr -d '\r') ||
  fail "GET /r/$CODE: request failed"
CLICK_AT=$(date +%s)
STATUS=$(printf '%s\n' "$HEADERS" | head -n1 | cut -d' ' -f2)
[[ $STATUS == 302 ]] || fail "expected 302, got: $(printf '%s\n' "$HEADERS" | head -n1)"
TOKEN=$(printf '%s\n' "$HEADERS" | sed -n 's/^[Ss]et-[Cc]ookie:[[:space:]]*rft=\([^;]*\).*/\1/p' | head -n1)
[[ -n $TOKEN ]] || fail "no rft cookie in the redirect: $HEADERS"
LOCATION=$(printf '%s\n' "$HEADERS" | sed -n 's/^[Ll]ocation:[[:space:]]*//p' | head -n1)
ok "302 to $LOCATION, token $TOKEN"

step "POST /webhooks/signup for $FRIEND with the attribution token"
CREATED+=("$FRIEND")
signed POST /webhooks/signup "{\"customer_id\":\"$FRIEND\",\"email\":\"$EMAIL\",\"first_name\":\"Friend\",\"attribution_token\":\"$TOKEN\"}" || fail "request failed"
expect_status 202
ok "202"

step "GET /api/referrals/$FRIEND until pending (up to ${TIMEOUT}s)"
wait_for_state "$FRIEND" pending

WAIT=$((CLICK_AT + MIN_CLICK_AGE - $(date +%s)))
if ((WAIT > 0)); then
  step "waiting ${WAIT}s so the conversion is not held as too soon after the click"
  sleep "$WAIT"
fi

step "POST /webhooks/conversion for $FRIEND"
signed POST /webhooks/conversion "{\"customer_id\":\"$FRIEND\",\"order_id\":\"smoke_order_$RUN\",\"amount_minor\":2500,\"currency\":\"GBP\"}" || fail "request failed"
expect_status 202
ok "202"

step "GET /api/referrals/$FRIEND until rewarded (up to ${TIMEOUT}s)"
wait_for_state "$FRIEND" rewarded

printf '\nsmoke test passed: %s referred %s with code %s; erasing both\n' "$REFERRER" "$FRIEND" "$CODE"
