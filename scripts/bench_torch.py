#!/usr/bin/env python3
"""PyTorch side of `npm run bench`: the same model, initial weights and batches as onnxtrain's run.

Usage: python3 scripts/bench_torch.py DIR MODEL THREADS REPEATS     (THREADS 0: torch's default)

DIR holds what scripts/bench_data.ts wrote: images.u8 (raw uint8 NCHW training images), labels.u8,
indices.i64 ([steps, batch] sample indices), weights.safetensors (onnxtrain's initial weights, PyTorch
state_dict names), meta.json ({"n", "shape", "batch"}). Training is the reference loop: Adam(lr=1e-3),
CrossEntropyLoss (mean), one zero_grad/forward/backward/step per batch, batches gathered from the
normalised images with index_select. Prints one JSON line: {"threads", "seconds": [...], "cpu_seconds": [...], "steps", "mean_loss", "torch"}.
Run it with and without GLIBC_TUNABLES=glibc.malloc.mmap_threshold=...: malloc churn dominates otherwise.
"""

import json
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import build_module  # noqa: E402  (the torch twin of every seed model)

DTYPES = {"F32": np.float32, "I64": np.int64, "F64": np.float64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def main(argv):
    if len(argv) != 5:
        sys.exit("usage: bench_torch.py DIR MODEL THREADS REPEATS")
    d, model, threads, repeats = argv[1], argv[2], int(argv[3]), int(argv[4])
    if threads > 0:  # 0: torch's own default
        torch.set_num_threads(threads)
    meta = json.load(open(os.path.join(d, "meta.json")))
    shape = meta["shape"]
    raw = np.fromfile(os.path.join(d, "images.u8"), dtype=np.uint8).reshape([meta["n"], *shape])
    # (x/255 - 0.5)/0.5 in float32, as torchvision's ToTensor + Normalize
    images = (torch.from_numpy(raw).float() / 255 - 0.5) / 0.5
    labels = torch.from_numpy(np.fromfile(os.path.join(d, "labels.u8"), dtype=np.uint8).astype(np.int64))
    idx_flat = torch.from_numpy(np.fromfile(os.path.join(d, "indices.i64"), dtype=np.int64))
    weights = read_safetensors(os.path.join(d, "weights.safetensors"))

    net = build_module(model, {})
    net.train()
    loss_fn = nn.CrossEntropyLoss()

    def run(batches):
        net.load_state_dict(weights, strict=True)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        total = 0.0
        t0, c0 = time.perf_counter(), time.process_time()
        for rows in batches:
            x = images.index_select(0, rows)
            y = labels.index_select(0, rows)
            opt.zero_grad()
            loss = loss_fn(net(x), y)
            loss.backward()
            opt.step()
            total += loss.item()
        return time.perf_counter() - t0, time.process_time() - c0, total / len(batches)

    steps_batches = idx_flat.view(-1, meta["batch"])
    run(steps_batches[:2])  # warm-up
    seconds, cpu, mean_loss = [], [], float("nan")
    for _ in range(repeats):
        s, c, mean_loss = run(steps_batches)
        seconds.append(s)
        cpu.append(c)
    print(json.dumps({"threads": torch.get_num_threads(), "seconds": seconds, "cpu_seconds": cpu, "steps": int(steps_batches.shape[0]), "mean_loss": mean_loss, "torch": torch.__version__}))


if __name__ == "__main__":
    main(sys.argv)
