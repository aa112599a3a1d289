"""PyTorch side of scripts/bench_kernels.ts: conv2d forward and forward+backward per layer.

usage: bench_kernels_torch.py THREADS ROUNDS 'C,M,H,dx;C,M,H,dx;...' [wall|cpu]   prints one JSON line per layer
(cpu: process CPU time, all threads, instead of elapsed time)
"""
import json
import sys
import time

import torch


CLOCK = time.process_time if len(sys.argv) > 4 and sys.argv[4] == 'cpu' else time.perf_counter


def median_ms(f, rounds):
    f()
    f()
    times = []
    for _ in range(rounds):
        t = CLOCK()
        f()
        times.append((CLOCK() - t) * 1000)
    times.sort()
    return times[len(times) // 2]


def main():
    threads, rounds, layers = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    for spec in layers.split(';'):
        c, m, h, dx = (int(v) for v in spec.split(','))
        x = torch.randn(64, c, h, h, requires_grad=bool(dx))
        w = torch.randn(m, c, 3, 3, requires_grad=True)
        b = torch.randn(m, requires_grad=True)
        dy = torch.randn(64, m, h, h)
        wrt = [x, w, b] if dx else [w, b]
        fwd = median_ms(lambda: torch.nn.functional.conv2d(x.detach(), w.detach(), b.detach(), padding=1), rounds)
        both = median_ms(lambda: torch.autograd.grad(torch.nn.functional.conv2d(x, w, b, padding=1), wrt, dy), rounds)
        print(json.dumps({'layer': spec, 'fwd': fwd, 'fwdBwd': both}), flush=True)


if __name__ == '__main__':
    main()
