#!/usr/bin/env bash
# Token endpoint throughput through the local gateway (DynamoDB Local behind it), with `hey`,
# compared in one run with raw in-process argon2id throughput on the same machine.
#   repeat:     one client asking again and again, served from the per-instance cache;
#   first-time: the verification cache is off, so every request pays one argon2id verification.
# Both phases share one DynamoDB Local, in memory and warmed up first: a cold JVM answers several
# times slower than a warm one, and its on-disk SQLite pays an fsync per write on our two cores,
# neither of which DynamoDB in AWS puts on the function's CPU.
#
# Then a peer, in the same run: panva's oidc-provider (bench/oidc-provider/, npm, pinned) as a
# client_credentials token endpoint with plaintext secrets, its in-memory adapter and RS256
# `at+jwt` access tokens. Clavis (repeat and first-time) and the peer each take
# `hey -n PEER_REQUESTS -c PEER_CONCURRENCY` (10,000 and 100) for the same request, and the CPU
# time of each serving process (utime + stime from /proc/<pid>/stat, its descendants included) is
# read before and after the measured run and divided by the requests.
#
# Then the request authorizer, in the same run: the gateway fronts a trivial upstream (a Node
# server answering 204) at /api/ with authorize-request on every request; one credential's token
# makes `hey -n API_REQUESTS -c PEER_CONCURRENCY` (20,000 and 100) requests, CPU timed as above.
# The gateway logs each usage flush; the script counts the flushes that wrote, per second, and,
# after a clean stop of the gateway, checks that the credential's request count is exactly its
# token request plus the API requests allowed.
#
# CLAVIS_BENCH_BIN_DIR=dir uses the clavis-local and argon2-throughput binaries in dir instead of
# building them (e.g. a debug build for working on this script: its figures mean nothing).
# PROFILE=1 also records the gateway with `perf` (Debian linux-perf) during the timed repeat run,
# from a build that keeps its symbols, and writes where its CPU goes to
# target/bench-http/gateway-profile.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

FIRST_REQUESTS=${FIRST_REQUESTS:-600}
REPEAT_REQUESTS=${REPEAT_REQUESTS:-20000}
WARM_UP_REQUESTS=${WARM_UP_REQUESTS:-30000}
CONCURRENCY=${CONCURRENCY:-8}
PORT=${BENCH_PORT:-3917}
PEER_REQUESTS=${PEER_REQUESTS:-10000}
PEER_FIRST_REQUESTS=${PEER_FIRST_REQUESTS:-$PEER_REQUESTS}
PEER_WARM_UP_REQUESTS=${PEER_WARM_UP_REQUESTS:-10000}
PEER_CONCURRENCY=${PEER_CONCURRENCY:-100}
PEER_PORT=${BENCH_PEER_PORT:-3918}
API_REQUESTS=${API_REQUESTS:-20000}
UPSTREAM_PORT=${BENCH_UPSTREAM_PORT:-3919}
PEER_DIR=bench/oidc-provider
SCOPE=bench:read
OUT=target/bench-http
mkdir -p "$OUT"

if [ -n "${CLAVIS_BENCH_BIN_DIR:-}" ]; then
  BIN=$CLAVIS_BENCH_BIN_DIR
  echo "using the binaries in $BIN (not built here)"
else
  if [ "${PROFILE:-0}" = 1 ]; then
    CARGO_PROFILE_BENCH_STRIP=false CARGO_PROFILE_BENCH_DEBUG=line-tables-only \
      cargo build --locked --profile bench -q -p clavis-local --bins
  else
    cargo build --locked --profile bench -q -p clavis-local --bins
  fi
  BIN=target/release
fi
for bin in clavis-local argon2-throughput; do
  [ -x "$BIN/$bin" ] || { echo "bench build of $bin not found in $BIN" >&2; exit 1; }
done

# The peer's dependencies, from its own lock file.
if [ ! "$PEER_DIR/node_modules/.clavis-installed" -nt "$PEER_DIR/package-lock.json" ]; then
  (cd "$PEER_DIR" && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.clavis-installed)
fi

DATA=$(mktemp -d)
GATEWAY=
DYNAMODB=
PEER=
HEY=
UPSTREAM=
cleanup() {
  for pid in ${PERF:-} $HEY $PEER $UPSTREAM $GATEWAY $DYNAMODB; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$DATA"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

CLAVIS_DATA_DIR="$DATA" "$BIN/clavis-local" dynamodb --in-memory > "$DATA/endpoint" 2> "$OUT/dynamodb.log" &
DYNAMODB=$!
for _ in $(seq 1 300); do [ -s "$DATA/endpoint" ] && break; sleep 0.2; done
ENDPOINT=$(head -1 "$DATA/endpoint")
[ -n "$ENDPOINT" ] || { echo "DynamoDB Local did not start; see $OUT/dynamodb.log" >&2; exit 1; }

# The platform's API: a Node server that answers 204 to everything.
node -e 'require("http").createServer((q, s) => { q.resume(); q.on("end", () => { s.writeHead(204); s.end(); }); }).listen(+process.argv[1], "127.0.0.1")' "$UPSTREAM_PORT" &
UPSTREAM=$!

start_gateway() { # $1: verification cache entries, $2: LIVE_STATUS_MAX_AGE_SECONDS (default 0)
  CLAVIS_DATA_DIR="$DATA" PORT=$PORT DYNAMODB_ENDPOINT="$ENDPOINT" VERIFICATION_CACHE_ENTRIES=$1 \
    LIVE_STATUS_MAX_AGE_SECONDS=${2:-0} \
    CLAVIS_UPSTREAM="http://127.0.0.1:$UPSTREAM_PORT" ROUTE_SCOPES='{"GET /items/{id}": ["bench:read"]}' \
    RUST_LOG=warn,clavis_core::usage=debug "$BIN/clavis-local" serve > "$OUT/gateway.log" 2>&1 &
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

request_count() { # $1: client ID; this month's request count, as the management API shows it
  local token
  token=$(CLAVIS_DATA_DIR="$DATA" "$BIN/clavis-local" dev-token --tenant bench --role admin)
  curl -fsS "http://127.0.0.1:$PORT/v1/tenants/bench/credentials/$1" -H "authorization: Bearer $token" | jq .request_count
}

new_client() { # prints "client_id:client_secret"
  local token created
  token=$(CLAVIS_DATA_DIR="$DATA" "$BIN/clavis-local" dev-token --tenant bench --role admin)
  created=$(curl -fsS -X POST "http://127.0.0.1:$PORT/v1/tenants/bench/credentials" \
    -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"name": "bench", "scopes": ["bench:read"]}')
  echo "$(echo "$created" | jq -r .credential.client_id):$(echo "$created" | jq -r .client_secret)"
}

hey_post() { # $1: URL, $2: requests, $3: concurrency, $4: "id:secret", $5: form, $6: report file
  # hey gives each of its workers n / c requests.
  local expected=$(( $2 / $3 * $3 )) ok other
  # In the background, so that a signal to this script stops it at once (cleanup kills hey too).
  hey -n "$2" -c "$3" -m POST -T application/x-www-form-urlencoded \
    -H "Authorization: Basic $(printf %s "$4" | base64 -w0)" -d "$5" "$1" > "$6" &
  HEY=$!
  wait "$HEY"; HEY=
  ok=$(awk '/^Status code distribution/ {s = 1; next} s && $1 ~ /^\[2[0-9][0-9]\]$/ {n += $2} END {print n + 0}' "$6")
  other=$(awk '/^Status code distribution/ {s = 1; next} s && $1 ~ /^\[[0-9]+\]$/ && $1 !~ /^\[2/ {n += $2} END {print n + 0}' "$6")
  if [ "$ok" -ne "$expected" ] || [ "$other" -ne 0 ] || grep -q '^Error distribution' "$6"; then
    echo "FAILED: $ok of $expected requests to $1 answered 2xx ($other other statuses); $6 says:" >&2
    sed -n '/^Status code distribution/,$p' "$6" >&2
    exit 1
  fi
}

hey_tokens() { # $1: requests, $2: "id:secret", $3: report file
  hey_post "http://127.0.0.1:$PORT/oauth/token" "$1" "$CONCURRENCY" "$2" 'grant_type=client_credentials' "$3"
}

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # $1: pid; utime + stime (clock ticks) of it and all its descendants, all threads
  local all=" $1 " frontier=$1 next pid
  while [ -n "$frontier" ]; do
    next=
    for pid in $frontier; do next+=" $(cat /proc/"$pid"/task/*/children 2>/dev/null || true)"; done
    frontier=$(echo $next)
    all+=" $frontier "
  done
  for pid in $all; do sed 's/^.*) //' /proc/"$pid"/stat 2>/dev/null || true; done |
    awk '{t += $12 + $13} END {print t + 0}'
}

measure() { # $1: URL, $2: requests, $3: "id:secret", $4: report file, $5…: pids to time
  # hey's own CPU is not counted; each pid's figure (ms of CPU per request) goes to $4.cpu.
  local url=$1 requests=$2 client=$3 report=$4 pid; shift 4
  local -a before=()
  for pid in "$@"; do before+=("$(cpu_ticks "$pid")"); done
  hey_post "$url" "$requests" "$PEER_CONCURRENCY" "$client" "grant_type=client_credentials&scope=$SCOPE" "$report"
  local i=0 answered=$(( requests / PEER_CONCURRENCY * PEER_CONCURRENCY ))
  for pid in "$@"; do
    echo "$(cpu_ticks "$pid") ${before[$i]} $CLK_TCK $answered" | awk '{printf "%.3f\n", ($1 - $2) * 1000 / $3 / $4}'
    i=$(( i + 1 ))
  done > "$report.cpu"
}
cpu_of() { sed -n "${2}p" "$1.cpu"; } # $1: report, $2: line (1: serving process, 2: DynamoDB Local)

start_peer() { # $1: "id:secret"
  PEER_PORT=$PEER_PORT PEER_CLIENTS=$1 PEER_SCOPE=$SCOPE node "$PEER_DIR/server.js" \
    > "$DATA/peer-endpoint" 2> "$OUT/oidc-provider.log" &
  PEER=$!
  for _ in $(seq 1 150); do [ -s "$DATA/peer-endpoint" ] && break; sleep 0.2; done
  PEER_URL=$(head -1 "$DATA/peer-endpoint")
  [ -n "$PEER_URL" ] || { echo "oidc-provider did not start; see $OUT/oidc-provider.log" >&2; exit 1; }
}

jwt_header() { # $1: token endpoint URL, $2: "id:secret"; the access token's JOSE header, one line
  local segment
  segment=$(curl -fsS -u "$2" -d "grant_type=client_credentials&scope=$SCOPE" "$1" | jq -r .access_token | cut -d. -f1 | tr '_-' '/+')
  while [ $(( ${#segment} % 4 )) -ne 0 ]; do segment+="="; done
  echo "$segment" | base64 -d | jq -c '{alg, typ}'
}

check_jwt() { # $1: name, $2: URL, $3: "id:secret"
  local header
  header=$(jwt_header "$2" "$3")
  echo "$1 access token header: $header"
  [ "$header" = '{"alg":"RS256","typ":"at+jwt"}' ] || { echo "FAILED: $1 does not issue RS256 at+jwt access tokens" >&2; exit 1; }
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
check_jwt Clavis "http://127.0.0.1:$PORT/oauth/token" "$CLIENT"
echo "  and with hey -n $PEER_REQUESTS -c $PEER_CONCURRENCY, CPU timed…"
PERF=
if [ "${PROFILE:-0}" = 1 ]; then
  command -v perf >/dev/null || apt-get install -y linux-perf
  perf record -q -F 999 -g -p "$GATEWAY" -o "$OUT/gateway.perf.data" 2> "$OUT/perf.log" &
  PERF=$!
fi
measure "http://127.0.0.1:$PORT/oauth/token" "$PEER_REQUESTS" "$CLIENT" "$OUT/peer-clavis-repeat.txt" "$GATEWAY" "$DYNAMODB"
if [ -n "$PERF" ]; then
  kill -INT "$PERF"; wait "$PERF" 2>/dev/null || true; PERF=
  # Self time grouped by where it goes, then the hottest symbols.
  perf report -i "$OUT/gateway.perf.data" --no-children --sort dso,symbol -g none --stdio -q 2>/dev/null \
    | sed 's/ *- *- *$//' > "$OUT/gateway-symbols.txt" || true
  {
    echo "gateway CPU during the timed repeat run, self time:"
    awk '{ pct = $1; sub(/%/, "", pct); dso = $2; kind = $3; $1 = ""; $2 = ""; $3 = ""; sym = $0; sub(/^ +/, "", sym)
           if (kind == "[k]") g = "kernel (syscalls, scheduling, TCP)"
           else if (sym ~ /^aws_lc_|^pkey_rsa|^EVP_/) g = "aws-lc (C): RSA signing, SHA-256"
           else if (dso ~ /libc/) g = "libc (malloc, free, memcpy)"
           else { s = sym; sub(/^</, "", s); split(s, part, "::"); g = part[1]
                  if (g ~ /^aws_(smithy|sdk|runtime|sigv4|types)/) g = "AWS SDK (smithy, dynamodb, sigv4)"
                  else if (g ~ /^(hyper|hyper_util|h2|http|http_body)$/) g = "hyper/http"
                  else if (g ~ /^serde/) g = "serde/serde_json" }
           total[g] += pct }
         END { for (g in total) printf "%6.2f%%  %s\n", total[g], g }' "$OUT/gateway-symbols.txt" | sort -rn | head -20
    echo; echo "hottest symbols:"; head -40 "$OUT/gateway-symbols.txt"
  } > "$OUT/gateway-profile.txt"
  echo "  profile: $OUT/gateway-profile.txt"
fi

echo "the request authorizer: hey -n $API_REQUESTS -c $PEER_CONCURRENCY through /api/, CPU timed…"
API_CLIENT=$(new_client)
ACCESS_TOKEN=$(curl -fsS -u "$API_CLIENT" -d grant_type=client_credentials "http://127.0.0.1:$PORT/oauth/token" | jq -r .access_token)
hey -n 2000 -c "$PEER_CONCURRENCY" -H "Authorization: Bearer $ACCESS_TOKEN" "http://127.0.0.1:$PORT/api/items/warm-up" > "$OUT/api-warm-up.txt"
API_BEFORE=( "$(cpu_ticks "$GATEWAY")" "$(cpu_ticks "$DYNAMODB")" )
LOG_LINES_BEFORE=$(wc -l < "$OUT/gateway.log")
API_STARTED=$(date +%s.%N)
hey -n "$API_REQUESTS" -c "$PEER_CONCURRENCY" -H "Authorization: Bearer $ACCESS_TOKEN" "http://127.0.0.1:$PORT/api/items/42" > "$OUT/api.txt" &
HEY=$!
wait "$HEY"; HEY=
API_SECONDS=$(echo "$(date +%s.%N) - $API_STARTED" | bc -l)
API_AFTER=( "$(cpu_ticks "$GATEWAY")" "$(cpu_ticks "$DYNAMODB")" )
API_ALLOWED=$(awk '/^Status code distribution/ {s = 1; next} s && $1 == "[204]" {print $2}' "$OUT/api.txt")
API_ALLOWED=${API_ALLOWED:-0}
API_EXPECTED=$(( API_REQUESTS / PEER_CONCURRENCY * PEER_CONCURRENCY ))
if [ "$API_ALLOWED" -ne "$API_EXPECTED" ]; then
  echo "FAILED: $API_ALLOWED of $API_EXPECTED API requests allowed; $OUT/api.txt says:" >&2
  sed -n '/^Status code distribution/,$p' "$OUT/api.txt" >&2
  exit 1
fi
# Flushes that wrote something during the run (the authorizer's and the token endpoint's).
API_WRITES=$(tail -n +"$(( LOG_LINES_BEFORE + 1 ))" "$OUT/gateway.log" | grep 'usage flushed' | grep -vc 'written=0' || true)
API_CPU=$(echo "${API_AFTER[0]} ${API_BEFORE[0]} $CLK_TCK $API_ALLOWED" | awk '{printf "%.3f", ($1 - $2) * 1000 / $3 / $4}')
API_DB_CPU=$(echo "${API_AFTER[1]} ${API_BEFORE[1]} $CLK_TCK $API_ALLOWED" | awk '{printf "%.3f", ($1 - $2) * 1000 / $3 / $4}')
stop_gateway
# After a clean stop, every use is written: the token request, the warm-up and the run.
start_gateway 10000
API_COUNT=$(request_count "${API_CLIENT%%:*}")
API_TRUTH=$(( 1 + 2000 / PEER_CONCURRENCY * PEER_CONCURRENCY + API_ALLOWED ))
stop_gateway
[ "$API_COUNT" -eq "$API_TRUTH" ] || { echo "FAILED: request count $API_COUNT, but $API_TRUTH uses were allowed" >&2; exit 1; }

echo "  and again with LIVE_STATUS_MAX_AGE_SECONDS=1 (a second of staleness for fewer reads)…"
start_gateway 10000 1
hey -n 2000 -c "$PEER_CONCURRENCY" -H "Authorization: Bearer $ACCESS_TOKEN" "http://127.0.0.1:$PORT/api/items/warm-up" > "$OUT/api-warm-up.txt"
STALE_BEFORE=( "$(cpu_ticks "$GATEWAY")" "$(cpu_ticks "$DYNAMODB")" )
hey -n "$API_REQUESTS" -c "$PEER_CONCURRENCY" -H "Authorization: Bearer $ACCESS_TOKEN" "http://127.0.0.1:$PORT/api/items/42" > "$OUT/api-stale.txt" &
HEY=$!
wait "$HEY"; HEY=
STALE_AFTER=( "$(cpu_ticks "$GATEWAY")" "$(cpu_ticks "$DYNAMODB")" )
STALE_ALLOWED=$(awk '/^Status code distribution/ {s = 1; next} s && $1 == "[204]" {print $2}' "$OUT/api-stale.txt")
[ "${STALE_ALLOWED:-0}" -eq "$API_EXPECTED" ] || { echo "FAILED: ${STALE_ALLOWED:-0} of $API_EXPECTED API requests allowed; see $OUT/api-stale.txt" >&2; exit 1; }
STALE_CPU=$(echo "${STALE_AFTER[0]} ${STALE_BEFORE[0]} $CLK_TCK $STALE_ALLOWED" | awk '{printf "%.3f", ($1 - $2) * 1000 / $3 / $4}')
STALE_DB_CPU=$(echo "${STALE_AFTER[1]} ${STALE_BEFORE[1]} $CLK_TCK $STALE_ALLOWED" | awk '{printf "%.3f", ($1 - $2) * 1000 / $3 / $4}')
stop_gateway

echo "first-time verifications through the gateway…"
start_gateway 0
hey_tokens 40 "$(new_client)" "$OUT/warm-up.txt"
hey_tokens "$FIRST_REQUESTS" "$(new_client)" "$OUT/first-time.txt"
echo "  and with hey -n $PEER_FIRST_REQUESTS -c $PEER_CONCURRENCY, CPU timed…"
measure "http://127.0.0.1:$PORT/oauth/token" "$PEER_FIRST_REQUESTS" "$(new_client)" "$OUT/peer-clavis-first-time.txt" "$GATEWAY" "$DYNAMODB"
stop_gateway

echo "the peer: oidc-provider $(jq -r .version "$PEER_DIR/node_modules/oidc-provider/package.json") on Node $(node --version)…"
PEER_CLIENT="bench-peer:$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d =)"
start_peer "$PEER_CLIENT"
check_jwt oidc-provider "$PEER_URL" "$PEER_CLIENT"
hey_post "$PEER_URL" "$PEER_WARM_UP_REQUESTS" "$PEER_CONCURRENCY" "$PEER_CLIENT" "grant_type=client_credentials&scope=$SCOPE" "$OUT/peer-warm-up.txt"
measure "$PEER_URL" "$PEER_REQUESTS" "$PEER_CLIENT" "$OUT/peer-oidc-provider.txt" "$PEER"
kill "$PEER"; wait "$PEER" 2>/dev/null || true; PEER=

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

# The peer comparison. Ratios are Clavis / oidc-provider.
ratio() { echo "$1 $2" | awk '$2 > 0 {printf "%.2f", $1 / $2; exit} {printf "n/a"}'; }
P=$OUT/peer-oidc-provider.txt
peer_row() { # $1: label, $2: report, $3: DynamoDB Local column
  local rate p50 p99 cpu
  rate=$(rate "$2"); p50=$(percentile "$2" 50); p99=$(percentile "$2" 99); cpu=$(cpu_of "$2" 1)
  printf "| %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$1" "$rate" "$p50" "$p99" "$cpu" "$3" \
    "$(ratio "$rate" "$(rate "$P")")" "$(ratio "$p50" "$(percentile "$P" 50)")" \
    "$(ratio "$p99" "$(percentile "$P" 99)")" "$(ratio "$cpu" "$(cpu_of "$P" 1)")"
}
{
  echo
  echo "| server, measure | per second | p50 ms | p99 ms | CPU ms/request, server | CPU ms/request, DynamoDB Local | per second, Clavis / oidc-provider | p50, Clavis / oidc-provider | p99, Clavis / oidc-provider | CPU/request, Clavis / oidc-provider |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  peer_row "Clavis, repeat client (cache on)" "$OUT/peer-clavis-repeat.txt" "$(cpu_of "$OUT/peer-clavis-repeat.txt" 2)"
  peer_row "Clavis, first-time (cache off)" "$OUT/peer-clavis-first-time.txt" "$(cpu_of "$OUT/peer-clavis-first-time.txt" 2)"
  peer_row "oidc-provider $(jq -r .version "$PEER_DIR/node_modules/oidc-provider/package.json") (Node $(node --version), one process)" "$P" "–"
  echo
  echo "hey -n $PEER_REQUESTS -c $PEER_CONCURRENCY for each ($PEER_FIRST_REQUESTS for first-time), \`grant_type=client_credentials&scope=$SCOPE\` with client_secret_basic; every response 2xx;"
  echo "every server issues RS256 \`at+jwt\` access tokens. oidc-provider warmed up with $PEER_WARM_UP_REQUESTS requests, Clavis by the runs above."
  echo "CPU: utime + stime of the serving process and its descendants (/proc/<pid>/stat, CLK_TCK $CLK_TCK), over the measured run, per request."
  echo "Machine: $(nproc) cores, $( (grep -m1 '^model name' /proc/cpuinfo || lscpu | grep -m1 'Model name') | sed 's/^[^:]*:[[:space:]]*//'); hey and every server on the same cores."
  echo
  echo "| request authorizer, hey -n $API_REQUESTS -c $PEER_CONCURRENCY through /api/ | per second | p50 ms | p99 ms | CPU ms/request, gateway | CPU ms/request, DynamoDB Local | per second / repeat tokens per second (-c $PEER_CONCURRENCY) | usage writes per second | request count after a clean stop |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  printf "| Bearer token, one credential, RS256 | %.1f | %s | %s | %s | %s | %s | %s | %s of %s allowed uses |\n" \
    "$(rate "$OUT/api.txt")" "$(percentile "$OUT/api.txt" 50)" "$(percentile "$OUT/api.txt" 99)" "$API_CPU" "$API_DB_CPU" \
    "$(ratio "$(rate "$OUT/api.txt")" "$(rate "$OUT/peer-clavis-repeat.txt")")" \
    "$(echo "$API_WRITES $API_SECONDS" | awk '{printf "%.2f (%d flushes that wrote in %.1f s)", $1 / $2, $1, $2}')" "$API_COUNT" "$API_TRUTH"
  printf "| the same, LIVE_STATUS_MAX_AGE_SECONDS=1 | %.1f | %s | %s | %s | %s | %s | | |\n" \
    "$(rate "$OUT/api-stale.txt")" "$(percentile "$OUT/api-stale.txt" 50)" "$(percentile "$OUT/api-stale.txt" 99)" "$STALE_CPU" "$STALE_DB_CPU" \
    "$(ratio "$(rate "$OUT/api-stale.txt")" "$(rate "$OUT/peer-clavis-repeat.txt")")"
  [ -z "${CLAVIS_BENCH_BIN_DIR:-}" ] || echo "**Clavis binaries from $CLAVIS_BENCH_BIN_DIR, not the bench build: its figures are not comparable.**"
} | tee -a "$OUT/summary.md"
