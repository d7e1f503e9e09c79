#!/usr/bin/env bash
# Builds every Lambda function for arm64 (Graviton, provided.al2023) with cargo lambda and zig
# from the repo's virtualenv, checks that each function got an aarch64 `bootstrap`, and reports
# its size. Extra arguments go to `cargo lambda build` (`--release`, `--lambda-dir DIR`).
#   scripts/lambda-build.sh --release                                                  # make build
#   scripts/lambda-build.sh --profile lambda-check --lambda-dir target/lambda-check  # make test
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
LAMBDA_DIR=target/lambda
for ((i = 1; i <= $#; i++)); do
  if [[ ${!i} == --lambda-dir ]]; then j=$((i + 1)); LAMBDA_DIR=${!j}; fi
done
# The size budget applies to what is deployed: optimised, stripped release builds.
BUDGET_BYTES=8000000
release=false
[[ " $* " == *" --release "* ]] && release=true

if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi

PATH="$PWD/$VENV/bin:$PATH" cargo lambda build --arm64 --locked -p clavis-functions "$@"

status=0
printf '%-24s %12s\n' function "bootstrap bytes"
for source in functions/src/bin/*.rs; do
  function=$(basename "$source" .rs)
  bootstrap="$LAMBDA_DIR/$function/bootstrap"
  if [[ ! -f $bootstrap ]]; then
    echo "$function: no $bootstrap" >&2
    status=1
    continue
  fi
  # ELF e_machine (2 bytes at offset 18, little-endian): 183 is AArch64.
  machine=$(od -An -t u2 -j 18 -N 2 "$bootstrap" | tr -d ' ')
  if [[ $machine != 183 ]]; then
    echo "$function: $bootstrap is not an AArch64 executable (e_machine $machine)" >&2
    status=1
  fi
  size=$(stat -c %s "$bootstrap")
  note=""
  if $release && ((size > BUDGET_BYTES)); then
    note="  over the $BUDGET_BYTES-byte budget"
    status=1
  fi
  printf '%-24s %12d%s\n' "$function" "$size" "$note"
done
exit $status
