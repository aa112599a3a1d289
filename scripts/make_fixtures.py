#!/usr/bin/env python3
"""PyTorch 1.13 golden fixtures for onnxtrain's reference models.

Usage:
    npm run fixtures                                   (= the next line with the default folder)
    python3 scripts/make_fixtures.py [OUT_DIR]         write the fixtures (default test/fixtures/pytorch)
    python3 scripts/make_fixtures.py eval JOBS.json    load checkpoints into torch modules, print eval logits

Every value below comes from a formula, so test/helpers/fixture_values.ts rebuilds exactly the same
float32 inputs without reading them from the fixture:

  parameters   state_dict entry k (k counts every entry, buffers included, in state_dict order), element i
               (flat, row-major):  t = 1.7 i + 0.31 k + 0.5  (float64, evaluated left to right)
               Linear/Conv2d weight and bias: float32(b * sin(t)), b = 1 / sqrt(fan_in)
                                              (fan_in = in_features, or in_channels * kh * kw)
               BatchNorm2d weight: float32(1 + 0.25 sin(t)); bias: float32(0.25 sin(t))
               buffers: PyTorch's defaults (running_mean 0, running_var 1, num_batches_tracked 0)
  batch        8 images, x[b, j] = float32(sin(0.37 j + 1.3 b)) with j the flat C*H*W index;
               labels[b] = (3 b) % 10
  dropout      mask of the l-th Dropout layer (creation order), shape [8, F], flat index j within a sample:
               u = (0.6180339887498949 * (j + 97 b + 31 l + 1)) % 1; mask = float32(1 / (1 - p)) if u >= p
               else 0. The same masks are used at every step.

Training: CrossEntropyLoss (mean); 3 steps on the same batch (and masks) with each optimizer:
  adam     torch.optim.Adam(lr=1e-3)                 (betas 0.9/0.999, eps 1e-8)
  sgd      torch.optim.SGD(lr=1e-2, momentum=0.9)
  rmsprop  torch.optim.RMSprop(lr=1e-3)              (alpha 0.99, eps 1e-8)
All arithmetic is torch float32 on CPU, one thread, deterministic algorithms.

File format: one JSON file per case, `<case>.json`:
  format      1
  case, model, options (the ModelOptions given to buildModelDef), torch (version)
  batch       {"size": 8}
  noise       {"<layer>.noise": {"shape": [...], "p": p, "kept": number of non-zero mask entries}}
  initial     {"<state_dict name>": T}            the parameters and buffers from the formula (checks the TS side)
  forward     {"loss": float, "loss64": float, "logits": T, "buffers": {"<buffer>": T}}   one training-mode
              forward; buffers are the running statistics after it (BatchNorm cases)
  gradients   {"<param>": T}                      d loss / d param at the initial parameters
  steps       3
  optimizers  {"adam"|"sgd"|"rmsprop": {"lr": float, "momentum": float, "losses": [loss before step s],
               "losses64": [...], "params": {"<param>": T}, "buffers": {"<buffer>": T}}}   state after the 3 steps
where T is a tensor record, either complete
  {"shape": [...], "values": [...]}                  (at most FULL_LIMIT elements)
or a summary of a larger tensor
  {"shape": [...], "sum": s, "sum_sq": q, "sum_abs": a, "index": [...], "values": [...]}
  with float64 sums of the float32 elements and SAMPLES values at flat indices
  index[j] = (j n) // SAMPLES + (7919 j) % max(1, n // SAMPLES).
Every case is also run in float64 (the same float32 inputs, widened): `loss64`/`losses64` are its losses,
and records of computed tensors carry "err32": max |float32 - float64| over the whole tensor, torch's own
float32 rounding error (summaries also "sum_err32", the same for their sum). It tells a test how much of
a difference float32 alone explains: Adam and RMSprop turn a gradient element near eps into a full
+-lr step, so their updates can differ by ~2 lr.
Float32 values are written with 9 significant digits (exact), sums with Python's repr. Output is
byte-for-byte deterministic.

The `eval` mode reads a JSON list of jobs {"model", "options", "checkpoint"}: it reads each safetensors
checkpoint (its own small reader, no extra packages), drops the `optimizer.` keys, loads the rest with
load_state_dict(strict=True) into the torch module, runs it in eval mode on the formula batch and prints
{"results": [{"logits": [...]}]} as JSON.
"""

import copy
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

FULL_LIMIT = 256
SAMPLES = 64
BATCH = 8
STEPS = 3
GOLDEN = 0.6180339887498949

DATASET_SHAPES = {"fashion-mnist": (1, 28, 28), "cifar10": (3, 32, 32)}
MLP_HIDDEN = {"simple-mlp": [256], "medium-mlp": [512, 256], "deep-mlp": [1024, 512, 256, 128]}
DEFAULT_OPTIONS = {
    "activation": "relu", "pooling": "max", "kernel": 3, "batchNorm": False, "dropout": 0.0,
    "residual": False, "numClasses": 10,
}

# (case, model, options). A residual + BatchNorm case was tried and left out. Its forward, gradients, Adam and
# RMSprop agreed, but its second SGD step sits on a ReLU knife edge. The smallest BatchNorm output feeding a
# ReLU is 6e-7 from zero, within float32 rounding (torch float32 has it at 1.1e-6). At torch's parameters
# after step 1 our gradients match torch float64 to 2.3e-6; at ours, 3e-8 away, up to 24 % apart (loss
# after 3 steps 2.4048 vs 2.4030). BatchNorm is checked by
# basic-cnn-batchnorm, residual blocks here; both together in test/models/state_dict.test.ts and the gradchecks.
CASES = [
    ("simple-mlp", "simple-mlp", {}),
    ("medium-mlp", "medium-mlp", {}),
    ("deep-mlp", "deep-mlp", {}),
    ("medium-mlp-dropout", "medium-mlp", {"dropout": 0.25}),
    ("basic-cnn", "basic-cnn", {}),
    ("basic-cnn-batchnorm", "basic-cnn", {"batchNorm": True}),
    ("complex-cnn", "complex-cnn", {}),
    ("cifar10-cnn", "cifar10-cnn", {}),
    ("complex-cnn-residual", "complex-cnn", {"residual": True}),
    ("basic-cnn-tanh-avg-k5", "basic-cnn", {"activation": "tanh", "pooling": "avg", "kernel": 5}),
    ("basic-cnn-leaky-relu", "basic-cnn", {"activation": "leaky-relu"}),
    ("medium-mlp-sigmoid", "medium-mlp", {"activation": "sigmoid"}),
]

OPTIMIZERS = [
    ("adam", {"lr": 1e-3, "momentum": 0.0}, lambda ps: torch.optim.Adam(ps, lr=1e-3)),
    ("sgd", {"lr": 1e-2, "momentum": 0.9}, lambda ps: torch.optim.SGD(ps, lr=1e-2, momentum=0.9)),
    ("rmsprop", {"lr": 1e-3, "momentum": 0.0}, lambda ps: torch.optim.RMSprop(ps, lr=1e-3)),
]


# ---------------------------------------------------------------------------------------------- modules

class MaskDropout(nn.Module):
    """Dropout with an externally supplied mask (0 or 1/(1-p)); the identity in eval mode. No state_dict."""

    def __init__(self, p):
        super().__init__()
        self.p = p
        self.mask = None

    def forward(self, x):
        if not self.training:
            return x
        if self.mask is None:
            raise RuntimeError("MaskDropout: set .mask before a training forward")
        return x * self.mask


def activation(kind):
    return {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "leaky-relu": nn.LeakyReLU}[kind]()


def classifier_layers(n, hidden, o):
    layers = []
    for h in hidden:
        layers += [nn.Linear(n, h), activation(o["activation"])]
        if o["dropout"] > 0:
            layers.append(MaskDropout(o["dropout"]))
        n = h
    layers.append(nn.Linear(n, o["numClasses"]))
    return layers


def conv_unit(cin, cout, o, act=True):
    k = o["kernel"]
    m = [nn.Conv2d(cin, cout, k, padding=(k - 1) // 2)]
    if o["batchNorm"]:
        m.append(nn.BatchNorm2d(cout))
    if act:
        m.append(activation(o["activation"]))
    return m


class Residual(nn.Module):
    """act(body(x) + shortcut(x)), the shortcut a 1x1 Conv2d where the channel count changes (src/nn/residual.ts)."""

    def __init__(self, body, shortcut, act):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.shortcut = shortcut
        self.act = act

    def forward(self, x):
        return self.act(self.body(x) + (x if self.shortcut is None else self.shortcut(x)))


def double_conv_stage(cin, cout, o):
    if not o["residual"]:
        return conv_unit(cin, cout, o) + conv_unit(cout, cout, o) + [pool(o)]
    shortcut = None if cin == cout else nn.Conv2d(cin, cout, 1)
    return [Residual(conv_unit(cin, cout, o) + conv_unit(cout, cout, o, act=False), shortcut, activation(o["activation"])), pool(o)]


def pool(o):
    return nn.MaxPool2d(2) if o["pooling"] == "max" else nn.AvgPool2d(2)


class Root(nn.Module):
    def __init__(self, children):
        super().__init__()
        for name, m in children:
            self.add_module(name, m)

    def forward(self, x):
        for m in self.children():
            x = m(x)
        return x


def build_module(model, options):
    """The torch.nn equivalent of buildModelDef(model, options) with the same state_dict names."""
    o = dict(DEFAULT_OPTIONS, **options)
    c, h, w = DATASET_SHAPES["cifar10" if model == "cifar10-cnn" else "fashion-mnist"]
    if model in MLP_HIDDEN:
        return Root([("flatten", nn.Flatten()), ("layers", nn.Sequential(*classifier_layers(c * h * w, MLP_HIDDEN[model], o)))])
    if model == "basic-cnn":
        features = conv_unit(c, 16, o) + [pool(o)] + conv_unit(16, 32, o) + [pool(o)]
        classifier = [nn.Flatten()] + classifier_layers(32 * (h // 4) * (w // 4), [128], o)
    elif model in ("complex-cnn", "cifar10-cnn"):
        features = double_conv_stage(c, 32, o) + double_conv_stage(32, 64, o)
        classifier = [nn.Flatten()] + classifier_layers(64 * (h // 4) * (w // 4), [256], o)
    else:
        raise ValueError(f"unknown model '{model}': use one of simple-mlp, medium-mlp, deep-mlp, basic-cnn, complex-cnn, cifar10-cnn")
    return Root([("features", nn.Sequential(*features)), ("classifier", nn.Sequential(*classifier))])


# ---------------------------------------------------------------------------------------------- formulas

def formula_values(n, k, offset, scale):
    t = 1.7 * np.arange(n, dtype=np.float64) + 0.31 * k + 0.5
    return (offset + scale * np.sin(t)).astype(np.float32)


def set_formula_parameters(module):
    """Overwrite every parameter with the formula; buffers keep PyTorch's defaults."""
    owners = {}
    for mname, m in module.named_modules():
        for pname, _ in m.named_parameters(recurse=False):
            owners[f"{mname}.{pname}" if mname else pname] = (m, pname)
    with torch.no_grad():
        for k, (name, t) in enumerate(module.state_dict(keep_vars=True).items()):
            if name not in owners:
                continue
            m, pname = owners[name]
            if isinstance(m, nn.BatchNorm2d):
                offset, scale = (1.0, 0.25) if pname == "weight" else (0.0, 0.25)
            elif isinstance(m, nn.Linear):
                offset, scale = 0.0, 1 / math.sqrt(m.in_features)
            elif isinstance(m, nn.Conv2d):
                offset, scale = 0.0, 1 / math.sqrt(m.in_channels * m.kernel_size[0] * m.kernel_size[1])
            else:
                raise ValueError(f"no formula for parameter '{name}' of {type(m).__name__}")
            t.copy_(torch.from_numpy(formula_values(t.numel(), k, offset, scale)).reshape(t.shape))


def formula_batch(model):
    c, h, w = DATASET_SHAPES["cifar10" if model == "cifar10-cnn" else "fashion-mnist"]
    j = np.arange(c * h * w, dtype=np.float64)
    x = np.stack([np.sin(0.37 * j + 1.3 * b) for b in range(BATCH)]).astype(np.float32).reshape(BATCH, c, h, w)
    y = np.array([(3 * b) % 10 for b in range(BATCH)], dtype=np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def dropout_masks(module, x):
    """Set the formula mask on every MaskDropout (in module order); returns their noise records."""
    shapes = {}
    probe = copy.deepcopy(module)  # the probe forward must not touch the module's running statistics
    for name, m in probe.named_modules():
        if isinstance(m, MaskDropout):
            m.mask = torch.ones(1)
            m.register_forward_pre_hook(lambda m, inp, name=name: shapes.__setitem__(name, tuple(inp[0].shape)))
    with torch.no_grad():
        probe.train()(x)
    records = {}
    layers = [(name, m) for name, m in module.named_modules() if isinstance(m, MaskDropout)]
    for l, (name, m) in enumerate(layers):
        shape = shapes[name]
        f = int(np.prod(shape[1:]))
        j = np.arange(f, dtype=np.float64)
        scale = np.float32(1 / (1 - m.p))
        rows = []
        for b in range(shape[0]):
            u = (GOLDEN * (j + 97 * b + 31 * l + 1)) % 1
            rows.append(np.where(u >= m.p, scale, np.float32(0)))
        mask = np.stack(rows).astype(np.float32).reshape(shape)
        m.mask = torch.from_numpy(mask)
        records[f"{name}.noise"] = {"shape": list(shape), "p": m.p, "kept": int(np.count_nonzero(mask))}
    return records


# ---------------------------------------------------------------------------------------------- records

def f32(v):
    return float("%.9g" % v)


def sample_index(n):
    return [(j * n) // SAMPLES + (7919 * j) % max(1, n // SAMPLES) for j in range(SAMPLES)]


def record(t):
    a = t.detach().cpu().numpy()
    shape = list(a.shape)
    flat = a.reshape(-1)
    if flat.dtype == np.int64:
        return {"shape": shape, "values": [int(v) for v in flat]}
    if flat.size <= FULL_LIMIT:
        return {"shape": shape, "values": [f32(v) for v in flat]}
    d = flat.astype(np.float64)
    index = sample_index(flat.size)
    return {
        "shape": shape,
        "sum": float(np.sum(d)),
        "sum_sq": float(np.sum(d * d)),
        "sum_abs": float(np.sum(np.abs(d))),
        "index": index,
        "values": [f32(flat[i]) for i in index],
    }


def buffers_of(module):
    names = {f"{mn}.{bn}" if mn else bn for mn, m in module.named_modules() for bn, _ in m.named_buffers(recurse=False)}
    return {k: v.detach().clone() for k, v in module.state_dict().items() if k in names}


def fresh(model, options, x, dtype):
    torch.manual_seed(0)  # only the init that set_formula_parameters overwrites draws from it
    m = build_module(model, options)
    set_formula_parameters(m)
    noise = dropout_masks(m, x)
    m.to(dtype)
    for d in m.modules():
        if isinstance(d, MaskDropout):
            d.mask = d.mask.to(dtype)
    return m.train(), noise


def run_case(model, options, dtype):
    """Forward, backward and the optimizer steps from the formula values, computed in `dtype`."""
    x, y = formula_batch(model)
    loss_fn = nn.CrossEntropyLoss()
    m, noise = fresh(model, options, x, dtype)
    xd = x.to(dtype)
    initial = {k: v.detach().clone() for k, v in m.state_dict().items()}
    logits = m(xd)
    loss = loss_fn(logits, y)
    loss.backward()
    out = {
        "noise": noise, "initial": initial, "loss": loss.item(), "logits": logits.detach(), "buffers": buffers_of(m),
        "gradients": {name: p.grad.detach().clone() for name, p in m.named_parameters()}, "optimizers": {},
    }
    for kind, _, make in OPTIMIZERS:
        m, _ = fresh(model, options, x, dtype)
        opt = make(list(m.parameters()))
        losses = []
        for _ in range(STEPS):
            opt.zero_grad()
            loss = loss_fn(m(xd), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        out["optimizers"][kind] = {"losses": losses, "params": {n: p.detach().clone() for n, p in m.named_parameters()},
                                   "buffers": buffers_of(m)}
    return out


def err32(t32, t64):
    """max |float32 torch - float64 torch|: torch's own float32 rounding error on this tensor."""
    return float("%.3g" % torch.max(torch.abs(t32.double() - t64.double())).item()) if t32.numel() else 0.0


def record64(t32, t64):
    """A record of the float32 result with torch's own float32 error on it (and on its sum, for summaries)."""
    r = dict(record(t32), err32=err32(t32, t64))
    if "sum" in r:
        r["sum_err32"] = float("%.3g" % abs(r["sum"] - float(torch.sum(t64.double()).item())))
    return r


def records(d32, d64):
    return {k: record64(t, d64[k]) for k, t in d32.items()}


def make_case(case, model, options):
    r32 = run_case(model, options, torch.float32)
    r64 = run_case(model, options, torch.float64)
    out = {
        "format": 1,
        "case": case,
        "model": model,
        "options": options,
        "torch": torch.__version__,
        "batch": {"size": BATCH},
        "noise": r32["noise"],
        "initial": {k: record(v) for k, v in r32["initial"].items()},
        "forward": {
            "loss": f32(r32["loss"]), "loss64": r64["loss"],
            "logits": record64(r32["logits"], r64["logits"]),
            "buffers": records(r32["buffers"], r64["buffers"]),
        },
        "gradients": records(r32["gradients"], r64["gradients"]),
        "steps": STEPS,
        "optimizers": {},
    }
    for kind, settings, _ in OPTIMIZERS:
        o32, o64 = r32["optimizers"][kind], r64["optimizers"][kind]
        out["optimizers"][kind] = dict(settings, losses=[f32(v) for v in o32["losses"]], losses64=o64["losses"],
                                       params=records(o32["params"], o64["params"]),
                                       buffers=records(o32["buffers"], o64["buffers"]))
    return out


def write_fixtures(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    total = 0
    for case, model, options in CASES:
        text = json.dumps(make_case(case, model, options), separators=(",", ":")) + "\n"
        path = os.path.join(out_dir, f"{case}.json")
        with open(path, "w") as f:
            f.write(text)
        total += len(text)
        print(f"{path}: {len(text)} bytes")
    print(f"total {total} bytes")


# ---------------------------------------------------------------------------------------------- eval mode

ST_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path):
    """Minimal safetensors reader: u64 LE header length, JSON header, raw little-endian tensor bytes."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        a = np.frombuffer(data[base + begin:base + end], dtype=np.dtype(ST_DTYPES[e["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(a.reshape(e["shape"]).copy())
    return out


def eval_jobs(jobs_path):
    with open(jobs_path) as f:
        jobs = json.load(f)
    results = []
    for job in jobs:
        state = {k: v for k, v in read_safetensors(job["checkpoint"]).items() if not k.startswith("optimizer.")}
        m = build_module(job["model"], job.get("options", {}))
        m.load_state_dict(state, strict=True)
        x, _ = formula_batch(job["model"])
        with torch.no_grad():
            logits = m.eval()(x)
        results.append({"logits": [f32(v) for v in logits.reshape(-1).numpy()]})
    print(json.dumps({"results": results}))


def main(argv):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if len(argv) >= 1 and argv[0] == "eval":
        if len(argv) != 2:
            sys.exit("usage: make_fixtures.py eval JOBS.json")
        eval_jobs(argv[1])
        return
    here = os.path.dirname(os.path.abspath(__file__))
    write_fixtures(argv[0] if argv else os.path.join(here, "..", "test", "fixtures", "pytorch"))


if __name__ == "__main__":
    main(sys.argv[1:])
