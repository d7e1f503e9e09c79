#!/usr/bin/env bash
# Token endpoint throughput through the local gateway (DynamoDB Local behind it), with `hey`,
# compared in one run with raw in-process argon2id throughput on the same machine.
#   repeat:     one client asking again and again, served from the per-instance cache;
#   first-time: the verification cache is off, so every request pays one argon2id verification.
# Both phases share one DynamoDB Local, in memory and warmed up first: a cold JVM answers several
# times slower than a warm one, and its on-disk SQLite pays an fsync per write on our two cores,
# neither of which DynamoDB in AWS puts on the function's CPU.
set -euo pipefail
cd "$(dirname "$0")/.."

FIRST_REQUESTS=${FIRST_REQUESTS:-600}
REPEAT_REQUESTS=${REPEAT_REQUESTS:-20000}
WARM_UP_REQUESTS=${WARM_UP_REQUESTS:-30000}
CONCURRENCY=${CONCURRENCY:-8}
PORT=${BENCH_PORT:-3917}
OUT=target/bench-http
mkdir -p "$OUT"

cargo build --locked --profile bench -q -p clavis-local --bins
BIN=target/release
[ -x "$BIN/clavis-local" ] || { echo "bench build not found in $BIN" >&2; exit 1; }

DATA=$(mktemp -d)
GATEWAY=
DYNAMODB=
cleanup() {
  for pid in $GATEWAY $DYNAMODB; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$DATA"
}
trap cleanup EXIT

CLAVIS_DATA_DIR="$DATA" "$BIN/clavis-local" dynamodb --in-memory > "$DATA/endpoint" 2> "$OUT/dynamodb.log" &
DYNAMODB=$!
for _ in $(seq 1 300); do [ -s "$DATA/endpoint" ] && break; sleep 0.2; done
ENDPOINT=$(head -1 "$DATA/endpoint")
[ -n "$ENDPOINT" ] || { echo "DynamoDB Local did not start; see $OUT/dynamodb.log" >&2; exit 1; }

start_gateway() { # $1: verification cache entries
  CLAVIS_DATA_DIR="$DATA" PORT=$PORT DYNAMODB_ENDPOINT="$ENDPOINT" VERIFICATION_CACHE_ENTRIES=$1 \
    RUST_LOG=warn "$BIN/clavis-local" serve > "$OUT/gateway.log" 2>&1 &
  GATEWAY=$!
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$PORT/.well-known/jwks.json" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "the gateway did not start; see $OUT/gateway.log" >&2; exit 1
}

stop_gateway() {
  kill "$GATEWAY"; wait "$GATEWAY" 2>/dev/null || true; GATEWAY=
}

new_client() { # prints "client_id:client_secret"
  local token created
  token=$(CLAVIS_DATA_DIR="$DATA" "$BIN/clavis-local" dev-token --tenant bench --role admin)
  created=$(curl -fsS -X POST "http://127.0.0.1:$PORT/v1/tenants/bench/credentials" \
    -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"name": "bench", "scopes": ["bench:read"]}')
  echo "$(echo "$created" | jq -r .credential.client_id):$(echo "$created" | jq -r .client_secret)"
}

hey_tokens() { # $1: requests, $2: "id:secret", $3: report file
  # hey gives each of its workers n / c requests.
  local expected=$(( $1 / CONCURRENCY * CONCURRENCY ))
  hey -n "$1" -c "$CONCURRENCY" -m POST -T application/x-www-form-urlencoded \
    -H "Authorization: Basic $(printf %s "$2" | base64 -w0)" -d 'grant_type=client_credentials' \
    "http://127.0.0.1:$PORT/oauth/token" > "$3"
  if ! grep -qE "^\s+\[200\]\s+$expected responses" "$3"; then
    echo "not every request succeeded:" >&2; sed -n '/Status code distribution/,$p' "$3" >&2; exit 1
  fi
}

rate() { awk '/Requests\/sec/ {print $2}' "$1"; }
percentile() { awk -v p="$2%" '$1 == p && $2 == "in" {printf "%.1f", $3 * 1000}' "$1"; }

echo "raw argon2id (in process)…"
RAW1=$("$BIN/argon2-throughput" 1 5 | jq .verifies_per_second)
RAW2=$("$BIN/argon2-throughput" 2 5 | jq .verifies_per_second)

echo "repeat clients through the gateway (after warming DynamoDB Local up)…"
start_gateway 10000
CLIENT=$(new_client)
hey_tokens "$WARM_UP_REQUESTS" "$CLIENT" "$OUT/warm-up.txt"
hey_tokens "$REPEAT_REQUESTS" "$CLIENT" "$OUT/repeat.txt"
stop_gateway

echo "first-time verifications through the gateway…"
start_gateway 0
hey_tokens 40 "$(new_client)" "$OUT/warm-up.txt"
hey_tokens "$FIRST_REQUESTS" "$(new_client)" "$OUT/first-time.txt"
stop_gateway

FIRST=$(rate "$OUT/first-time.txt")
REPEAT=$(rate "$OUT/repeat.txt")
{
  echo "| measure | per second | p50 ms | p99 ms | ratio to raw argon2id (2 threads) |"
  echo "| --- | --- | --- | --- | --- |"
  printf "| raw argon2id verify, 1 thread | %.1f | | | %.2f |\n" "$RAW1" "$(echo "$RAW1 / $RAW2" | bc -l)"
  printf "| raw argon2id verify, 2 threads | %.1f | | | 1.00 |\n" "$RAW2"
  printf "| token requests, first-time (cache off) | %.1f | %s | %s | %.2f |\n" "$FIRST" "$(percentile "$OUT/first-time.txt" 50)" "$(percentile "$OUT/first-time.txt" 99)" "$(echo "$FIRST / $RAW2" | bc -l)"
  printf "| token requests, repeat client (cache on) | %.1f | %s | %s | %.2f |\n" "$REPEAT" "$(percentile "$OUT/repeat.txt" 50)" "$(percentile "$OUT/repeat.txt" 99)" "$(echo "$REPEAT / $RAW2" | bc -l)"
  echo
  echo "hey: $REPEAT_REQUESTS repeat and $FIRST_REQUESTS first-time requests, $CONCURRENCY concurrent, after $WARM_UP_REQUESTS warm-up requests; every response 200."
} | tee "$OUT/summary.md"
