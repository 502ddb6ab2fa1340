#!/usr/bin/env bash
# Regenerates every expected output in samples/expected/ with the installed jaccli. Run it on purpose only:
# tests/test_samples.py checks that jaccli still reproduces these bytes, and checks the numbers themselves
# against hand-derived formulas, so a change here must be explained in the commit message.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p expected
jaccli batch-jacobian 'x*x*x' seed.csv --dtype float32 > expected/seed.order1.txt
jaccli batch-jacobian 'x*x*x' seed.csv --dtype float32 -k 2 > expected/seed.order2.txt
jaccli batch-jacobian 'x*x*x' seed.csv --dtype float32 -f json -o expected/seed.order1.json
jaccli batch-jacobian '[r*cos(theta), r*sin(theta)]' polar.csv -f json -o expected/polar.jacobian.json
jaccli batch-jacobian '[r*cos(theta), r*sin(theta)]' polar.csv -k 2 -o expected/polar.hessian.txt
jaccli batch-jacobian '[r*cos(theta), r*sin(theta)]' polar.csv --wrt theta -f csv -o expected/polar.dtheta.csv
jaccli batch-jacobian 'tanh(x)**2' cube.npy -f npy -o expected/cube.tanh2.npy
jaccli batch-jacobian 'sum(x*x)' cube.npy -k 2 -f json -o expected/cube.sumsq.hessian.json
jaccli batch-jacobian 'softplus(dot(w, x) + bias)' points.json -f json -o expected/points.grad.json
jaccli batch-jacobian 'softplus(dot(w, x) + bias)' points.json -k 2 -o expected/points.hessian.txt
jaccli batch-jacobian 'x*x*x' seed.csv --dtype float32 -k 0-2 -f npz -o expected/seed.orders.npz
jaccli batch-jacobian 'a[0]*b[0]**2 + sin(a[1]*b[1])' blocks.json --wrt a,b -k 2 -f json -o expected/blocks.hessian.json
