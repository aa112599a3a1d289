#!/usr/bin/env bash
# The GPU device check (README "GPU"), in two halves:
#
#   scripts/gpu-check.sh pack        Here, on the development machine (no GPU needed): build, then gather
#                                    into .gpu/ (git-ignored) what a bare GPU machine lacks: Node (stripped,
#                                    xz), the production node_modules with onnxruntime-node's Linux x64
#                                    binary (xz), dist/ (tar.xz), the first TRAIN_IMAGES (default 30000)
#                                    Fashion-MNIST training images and TEST_IMAGES (2000) test images
#                                    (xz, with their digests) and libvulkan1.
#                                    Prints its size (a device call carries 64 MiB with the checkout).
#   scripts/gpu-check.sh [options]   There, in one call: unpack .gpu/ if present, point Vulkan at the GPU
#                                    driver, and run dist/scripts/gpu_check.js [options]: providers, the
#                                    placement line, s/epoch on cpu/webgpu/cuda for simple-mlp, basic-cnn
#                                    and complex-cnn on real data, parity against the cpu (see that file).
#                                    The report goes to $OUT/gpu-check.md when OUT is set (device tool).
#
# E.g. with the device tool: pack here, then
#   run(command: "bash scripts/gpu-check.sh", carry: [".gpu"], timeout_s: 600)
# and a dry run here through SwiftShader (README "GPU"): scripts/gpu-check.sh --limit 640 --parity-steps 2
set -euo pipefail
cd "$(dirname "$0")/.."
G=.gpu
ORT_BIN=onnxruntime-node/bin/napi-v6/linux/x64

pack() {
  npm run -s build
  rm -rf "$G" && mkdir -p "$G/node_modules" "$G/fashion-mnist" "$G/debs"
  local nm; nm=$(cd node_modules && pwd -P)
  # What `node dist/scripts/gpu_check.js` imports (no plots, so no sharp), and their dependencies.
  for m in onnxruntime-common protobufjs long @protobufjs; do cp -rL "$nm/$m" "$G/node_modules/"; done
  mkdir -p "$G/node_modules/$ORT_BIN"
  cp -L "$nm/onnxruntime-node/package.json" "$G/node_modules/onnxruntime-node/"
  cp -rL "$nm/onnxruntime-node/dist" "$G/node_modules/onnxruntime-node/"
  cp -L "$nm/$ORT_BIN/onnxruntime_binding.node" "$G/node_modules/$ORT_BIN/"
  xz -T0 -9 -c "$nm/$ORT_BIN/libonnxruntime.so.1" > "$G/libonnxruntime.so.1.xz"
  cp -L "$(command -v node)" "$G/node" && strip "$G/node" && xz -T0 -9 "$G/node"
  tar cJf "$G/dist.tar.xz" dist
  # The first TRAIN_IMAGES training and TEST_IMAGES test images (all of them would not fit beside Node and
  # onnxruntime), with their content digests for gpu_check.js --content-digests.
  python3 - "${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}" "$G/fashion-mnist" "${TRAIN_IMAGES:-30000}" "${TEST_IMAGES:-2000}" <<'PY'
import gzip, hashlib, json, lzma, os, struct, sys
src, dst, ntrain, ntest = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
digests = {}
for name, n in [('train-images-idx3-ubyte', ntrain), ('train-labels-idx1-ubyte', ntrain), ('t10k-images-idx3-ubyte', ntest), ('t10k-labels-idx1-ubyte', ntest)]:
    p = os.path.join(src, name)
    raw = gzip.open(p + '.gz').read() if os.path.exists(p + '.gz') else open(p, 'rb').read()
    rank = raw[3]
    dims = struct.unpack('>' + 'I' * rank, raw[4:4 + 4 * rank])
    per = 1
    for d in dims[1:]:
        per *= d
    n = min(n, dims[0])
    head = 4 + 4 * rank
    out = raw[:4] + struct.pack('>I', n) + raw[8:head] + raw[head:head + n * per]
    digests[name] = hashlib.sha256(out).hexdigest()
    with lzma.open(os.path.join(dst, name + '.xz'), 'wb', preset=9) as f:
        f.write(out)
json.dump(digests, open(os.path.join(dst, 'digests.json'), 'w'), indent=1)
PY
  (cd "$G/debs" && apt-get download libvulkan1 >/dev/null)
  du -sh "$G"
  echo "Carry $G to the GPU machine and run: bash scripts/gpu-check.sh [options]"
}

# xz, or Python's lzma where the machine has no xz.
unxz_to() {
  if command -v xz >/dev/null; then xz -dc "$1" > "$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}

unpack() {
  local t=/tmp/onnxtrain-gpu-check
  mkdir -p "$t/bin" "$t/fashion-mnist"
  if [ -f "$G/node.xz" ]; then unxz_to "$G/node.xz" "$t/bin/node" && chmod +x "$t/bin/node"; export PATH="$t/bin:$PATH"; fi
  # The checkout's node_modules is a link to the development machine's: use the packed one.
  if [ ! -e node_modules/onnxruntime-node/package.json ]; then rm -rf node_modules; cp -r "$G/node_modules" node_modules; fi
  [ -f "node_modules/$ORT_BIN/libonnxruntime.so.1" ] || unxz_to "$G/libonnxruntime.so.1.xz" "node_modules/$ORT_BIN/libonnxruntime.so.1"
  [ -f dist/scripts/gpu_check.js ] || tar xJf "$G/dist.tar.xz"
  for f in "$G"/fashion-mnist/*.xz; do
    local raw="$t/fashion-mnist/$(basename "$f" .xz)"
    [ -f "$raw" ] || unxz_to "$f" "$raw"
  done
  cp "$G/fashion-mnist/digests.json" "$t/fashion-mnist/"
  DATA_DIR="$t/fashion-mnist"
  if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then for d in "$G"/debs/*.deb; do dpkg -x "$d" /; done; ldconfig; fi
}

if [ "${1:-}" = pack ]; then pack; exit; fi

DATA_DIR=""
[ -d "$G" ] && unpack
# NVIDIA's Vulkan driver where the loader does not find it by itself.
nv=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ] && [ -f "$nv" ]; then export VK_DRIVER_FILES="$nv"; fi
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "$XDG_RUNTIME_DIR" ]; then XDG_RUNTIME_DIR=$(mktemp -d); export XDG_RUNTIME_DIR; fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
echo "node $(node --version)"

args=("$@")
[ -n "$DATA_DIR" ] && args+=(--data-dir "$DATA_DIR" --content-digests "$DATA_DIR/digests.json")
[ -n "${OUT:-}" ] && args+=(--out "$OUT/gpu-check.md")
node dist/scripts/gpu_check.js "${args[@]}"
