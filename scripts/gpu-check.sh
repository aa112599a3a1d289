#!/usr/bin/env bash
# One-go GPU check for a machine with an NVIDIA GPU (README "GPU"): probe the providers, train each seed
# model one epoch on cpu, webgpu and (if installed) cuda, compare epoch 1 with the CPU, and print s/epoch,
# peak device memory and the placement summary (host/device copies per optimizer step).
#   scripts/gpu-check.sh [models...]        LIMIT=N limits the training images (default: all)
# Needs: npm ci && npm run build. For cuda: the opt-in install in README "GPU". Output: a Markdown table.
set -uo pipefail
cd "$(dirname "$0")/.."
MODELS=("$@")
[ ${#MODELS[@]} -eq 0 ] && MODELS=(simple-mlp medium-mlp deep-mlp basic-cnn complex-cnn cifar10-cnn)
OUT=${OUT:-runs/gpu-check-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
[ -d dist/src ] || npm run -s build || exit 1

probe() {
  node --input-type=module -e "
    import { probeProvider } from './dist/src/train/device/probe.js';
    const r = await probeProvider('$1');
    console.log(r.ok ? 'ok' + (r.software ? ' (software Vulkan)' : '') : 'no: ' + r.error);"
}
DEVICES=(cpu)
for d in webgpu cuda; do
  p=$(probe $d); echo "$d: $p"
  [[ $p == ok* ]] && DEVICES+=($d)
done
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

# Peak GPU memory (MiB) while a command runs, sampled by nvidia-smi every 100 ms.
peak_mem() {
  if ! command -v nvidia-smi >/dev/null; then "$@"; echo "-" > "$OUT/.peak"; return; fi
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$OUT/.mem" 2>/dev/null & local smi=$!
  "$@"; local rc=$?
  kill $smi 2>/dev/null; wait $smi 2>/dev/null
  sort -n "$OUT/.mem" | tail -1 > "$OUT/.peak"
  return $rc
}

field() { node -e "const m=require(require('path').resolve('$1/metrics.json'))[0]; console.log(m.$2)"; }

echo
echo "| model | device | s/epoch | train loss | vs cpu (rel) | val acc | peak GPU MiB | copies/step (to host + from host) |"
echo "|---|---|---|---|---|---|---|---|"
for m in "${MODELS[@]}"; do
  for d in "${DEVICES[@]}"; do
    run="$OUT/$m-$d"
    args=(train "$m" --epochs 1 --device "$d" --out "$run")
    [ -n "${LIMIT:-}" ] && args+=(--limit "$LIMIT")
    if ! peak_mem node dist/src/cli/bin.js "${args[@]}" > "$run.log" 2>&1; then
      echo "| $m | $d | failed: $(tail -1 "$run.log") | | | | | |"; continue
    fi
    loss=$(field "$run" trainLoss); secs=$(field "$run" seconds); acc=$(field "$run" valAcc)
    rel=-
    [ "$d" != cpu ] && rel=$(node -e "const c=require(require('path').resolve('$OUT/$m-cpu/metrics.json'))[0].trainLoss; console.log((Math.abs($loss-c)/c).toExponential(1))")
    copies=-
    if [ "$d" != cpu ]; then
      copies=$(node dist/scripts/placement.js "$m" --device "$d" --out "$OUT/placement-$m-$d" 2>&1 | sed -n 's/^Per optimizer step with \([a-z_]*\): \([0-9]*\) device->host, \([0-9]*\) host->device.*/\1 \2+\3/p' | head -1)
    fi
    echo "| $m | $d | $(printf %.2f "$secs") | $(printf %.6f "$loss") | $rel | $acc | $(cat "$OUT/.peak") | $copies |"
  done
done
echo
echo "Runs and optimized graphs in $OUT/"
