#!/usr/bin/env bash
# Guard a model's Jacobian and Hessian in CI: "on these inputs, the derivatives must not change".
#   bash samples/ci/check.sh            # CI: compare with the checked-in goldens (exit 1 on any change)
#   bash samples/ci/check.sh --update   # on purpose: regenerate the goldens, then commit them with a reason
set -euo pipefail
cd "$(dirname "$0")"
model=$(cat model.txt)
weights=(-D w0=0.75 -D w1=-1.25)
if [ "${1:-}" = "--update" ]; then
  jaccli batch-jacobian "$model" inputs.csv "${weights[@]}" -f json -o golden/jacobian.json
  jaccli batch-jacobian "$model" inputs.csv "${weights[@]}" -k 2 -f npy -o golden/hessian.npy
  echo "goldens regenerated: review 'git diff samples/ci/golden' and commit"
  exit 0
fi
jaccli batch-jacobian "$model" inputs.csv "${weights[@]}" --expect golden/jacobian.json --verify
jaccli batch-jacobian "$model" inputs.csv "${weights[@]}" -k 2 --expect golden/hessian.npy --verify
