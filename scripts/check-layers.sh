#!/usr/bin/env bash
# The layers ARCHITECTURE.md draws, as the compiler sees them: the core (rules, services,
# ports) links no AWS SDK, no Lambda runtime and no HTTP server or client, and the DynamoDB
# adapter no Lambda runtime. aws-lc-rs (and its aws-lc-sys) is a cryptography library, AWS's
# libcrypto, which the core's keys, HMAC and AEAD use; it is not the SDK.
set -euo pipefail
cd "$(dirname "$0")/.."

failed=0
forbid() {
  local krate=$1 pattern=$2
  local tree found
  tree=$(cargo tree --locked -p "$krate" -e normal --prefix none)
  found=$(sed 's/ .*//' <<<"$tree" | sort -u | grep -E "$pattern" | grep -vE '^aws-lc-(rs|sys)$' || true)
  if [[ -n $found ]]; then
    echo "$krate depends on what its layer must not:" $found >&2
    failed=1
  fi
}

forbid clavis-core '^(aws-|lambda_|hyper|reqwest|tower)'
forbid clavis-dynamodb '^(lambda_)'
exit $failed
