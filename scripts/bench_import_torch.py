"""PyTorch side of scripts/bench_import.ts: an imported model's training step in PyTorch.

    /usr/bin/python3 scripts/bench_import_torch.py export DIR MODEL SIZE
        writes DIR/MODEL.onnx: MODELS[MODEL] of scripts/import_models.py (torch.manual_seed(0), default
        initialisation) exported in training mode at 3 x SIZE x SIZE
    /usr/bin/python3 scripts/bench_import_torch.py time MODEL SIZE BATCH THREADS STEPS
        the same module and weights, train(), Adam(lr 1e-3): 1 untimed step, then STEPS timed steps of
        zero_grad/forward/CrossEntropyLoss/backward/step on one fixed batch (import_models.batch's images
        repeated to BATCH). Prints one JSON line: {"ms": [...per step], "cpu_ms": [...], "loss", "torch", "threads"}
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import import_models as M  # noqa: E402


def fixed_batch(size, n):
    x, y = M.batch((3, size, size))
    reps = (n + x.shape[0] - 1) // x.shape[0]
    return x.repeat(reps, 1, 1, 1)[:n].contiguous(), y.repeat(reps)[:n].contiguous()


def main(argv):
    if argv[1] == 'export':
        d, name, size = argv[2], argv[3], int(argv[4])
    else:
        name, size, n, threads, steps = argv[2], *(int(a) for a in argv[3:7])
    torch.manual_seed(0)
    model = M.MODELS[name][0]()
    model.train()
    if argv[1] == 'export':
        M.export_training_mode(model, fixed_batch(size, 2)[0], f'{d}/{name}.onnx')
        return
    torch.set_num_threads(threads)
    x, y = fixed_batch(size, n)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ms, cpu_ms = [], []
    for i in range(steps + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if i > 0:
            ms.append((time.perf_counter() - t0) * 1e3)
            cpu_ms.append((time.process_time() - c0) * 1e3)
    print(json.dumps({'ms': ms, 'cpu_ms': cpu_ms, 'loss': loss.item(), 'torch': torch.__version__, 'threads': torch.get_num_threads()}))


if __name__ == '__main__':
    main(sys.argv)
