#!/usr/bin/env python3
"""PyTorch side of scripts/parity.ts: train the reference loop on onnxtrain's split, batches and weights.

Usage: python3 scripts/parity_torch.py DIR [--threads N] [--perturb] [--out torch.json]

--perturb moves the first element of the first parameter up by one float32 ulp: a control run that shows
how far float rounding alone moves the final accuracy (PyTorch against itself). --threads overrides meta.json.

DIR holds what parity.ts wrote:
  meta.json            {"model", "epochs", "batch", "threads", "log_steps", "shape", "n_train", "n_test", "lr"}
  train_images.u8      raw uint8 NCHW images of the whole training set (train + validation)
  train_labels.u8, test_images.u8, test_labels.u8
  train_idx.i32        the training rows (our seeded split), val_idx.i32 the validation rows
  orders.i32           [epochs, len(train_idx)]: every epoch's visiting order, as our trainer draws it
  norm_lut.f32         our normalisation table [channels, 256] (checked bit for bit against torch's)
  weights.safetensors  our initial weights, PyTorch state_dict names
Training: Adam(lr), CrossEntropyLoss (mean), batches of `batch` rows in the epoch's order, the last
partial batch included; after each epoch the running train loss/accuracy and validation loss/accuracy
(eval mode, batches of 1000); after the last epoch the test loss/accuracy. Writes DIR/torch.json and
prints one line per epoch to stderr.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import read_safetensors  # noqa: E402
from make_fixtures import build_module  # noqa: E402

EVAL_BATCH = 1000


def load(d, name, dtype, shape=None):
    a = np.fromfile(os.path.join(d, name), dtype=dtype)
    return a if shape is None else a.reshape(shape)


def normalise(raw_u8, lut_ours):
    """(x/255 - 0.5)/0.5 in float32, as torchvision's ToTensor + Normalize; asserts it equals our table."""
    c = raw_u8.shape[1]
    levels = torch.arange(256, dtype=torch.uint8).float() / 255
    lut_torch = ((levels - 0.5) / 0.5).repeat(c, 1)
    if not torch.equal(lut_torch, torch.from_numpy(lut_ours.reshape(c, 256))):
        sys.exit("parity_torch: onnxtrain's normalisation table differs from torch's (x/255 - 0.5)/0.5")
    return (torch.from_numpy(raw_u8).float() / 255 - 0.5) / 0.5


@torch.no_grad()
def evaluate(net, images, labels, rows):
    net.eval()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total, correct = 0.0, 0
    for k in range(0, len(rows), EVAL_BATCH):
        r = rows[k:k + EVAL_BATCH]
        logits = net(images.index_select(0, r))
        y = labels.index_select(0, r)
        total += loss_fn(logits, y).item()
        correct += int((logits.argmax(1) == y).sum())
    net.train()
    return {"loss": total / len(rows), "acc": correct / len(rows), "n": len(rows)}


def main(argv):
    ap = argparse.ArgumentParser(description="PyTorch side of scripts/parity.ts")
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--perturb", action="store_true")
    ap.add_argument("--out", default="torch.json")
    args = ap.parse_args(argv[1:])
    d = args.dir
    meta = json.load(open(os.path.join(d, "meta.json")))
    torch.set_num_threads(args.threads or meta["threads"])
    shape = meta["shape"]
    lut = load(d, "norm_lut.f32", np.float32)
    train_x = normalise(load(d, "train_images.u8", np.uint8, [meta["n_train"], *shape]), lut)
    test_x = normalise(load(d, "test_images.u8", np.uint8, [meta["n_test"], *shape]), lut)
    train_y = torch.from_numpy(load(d, "train_labels.u8", np.uint8).astype(np.int64))
    test_y = torch.from_numpy(load(d, "test_labels.u8", np.uint8).astype(np.int64))
    train_idx = torch.from_numpy(load(d, "train_idx.i32", np.int32).astype(np.int64))
    val_idx = torch.from_numpy(load(d, "val_idx.i32", np.int32).astype(np.int64))
    orders = torch.from_numpy(load(d, "orders.i32", np.int32, [meta["epochs"], len(train_idx)]).astype(np.int64))
    if not torch.equal(orders[0].sort().values, train_idx):
        sys.exit("parity_torch: orders.i32 epoch 1 is not a permutation of train_idx.i32; rerun parity.ts")

    net = build_module(meta["model"], {})
    net.load_state_dict(read_safetensors(os.path.join(d, "weights.safetensors")), strict=True)
    if args.perturb:
        with torch.no_grad():
            w = next(net.parameters()).view(-1)
            w[0] = torch.nextafter(w[0], torch.tensor(float("inf")))
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=meta["lr"])
    loss_fn = nn.CrossEntropyLoss()
    batch = meta["batch"]

    step_losses, history = [], []
    for e in range(meta["epochs"]):
        t0 = time.perf_counter()
        order = orders[e]
        loss_sum, correct = 0.0, 0
        for k in range(0, len(order), batch):
            rows = order[k:k + batch]
            x, y = train_x.index_select(0, rows), train_y.index_select(0, rows)
            opt.zero_grad()
            logits = net(x)
            loss = loss_fn(logits, y)
            loss.backward()
            opt.step()
            v = loss.item()
            if e == 0 and len(step_losses) < meta["log_steps"]:
                step_losses.append(v)
            loss_sum += v * len(rows)
            correct += int((logits.detach().argmax(1) == y).sum())
        val = evaluate(net, train_x, train_y, val_idx)
        m = {"epoch": e + 1, "trainLoss": loss_sum / len(order), "trainAcc": correct / len(order),
             "valLoss": val["loss"], "valAcc": val["acc"], "seconds": time.perf_counter() - t0}
        history.append(m)
        print(f"torch epoch {e + 1}/{meta['epochs']}: train loss {m['trainLoss']:.4f} acc {100 * m['trainAcc']:.2f}% | "
              f"val loss {m['valLoss']:.4f} acc {100 * m['valAcc']:.2f}% ({m['seconds']:.1f} s)", file=sys.stderr, flush=True)
    test = evaluate(net, test_x, test_y, torch.arange(meta["n_test"]))
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "perturbed": args.perturb,
           "history": history, "test": test, "stepLosses": step_losses}
    with open(os.path.join(d, args.out), "w") as f:
        json.dump(out, f)
    print(f"torch test accuracy {100 * test['acc']:.2f}%", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
