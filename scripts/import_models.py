"""Models exported from PyTorch for the import tests (test/import), with PyTorch's reference values.

    /usr/bin/python3 scripts/import_models.py OUT_DIR [NAME ...]

For each model NAME this writes OUT_DIR/NAME.onnx, exported in training mode without constant folding
(BatchNorm stays BatchNormalization, parameters keep their state_dict names, as docs/import.md says to
export), and OUT_DIR/NAME.ref.safetensors holding, for one batch:
  input      x[b, j] = sin(0.37 j + 1.3 b) over the flat C*H*W index j   [B, C, H, W]
  labels     3 b mod classes (float32 here; the tests cast)                [B]
  logits     the training-mode forward                                      [B, classes]
  loss       CrossEntropyLoss (mean)                                        [1]
  grad.<p>   d loss / d p for every parameter p (the initial weights are the ONNX initializers)
  adam.loss  the loss before each of 3 torch.optim.Adam steps (lr 1e-3) on this batch  [3]
All in float32, except for the models in FLOAT64_REFERENCE (computed in float64, stored as float32).
Weights: torch.manual_seed(0) and the modules' default initialisation. Small models are committed under
test/fixtures/import; resnet18 (45 MB), mobilenet_v2 (9 MB), squeezenet1_1 (3 MB) and shufflenet_v2_x0_5 (1.6 MB) are made in a temporary folder by the
tests when torchvision exists.
"""
import json
import math
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 4


class LeNet5(nn.Module):
    """LeNet-5 on 1x28x28; view(x.size(0), -1) exports Shape -> Gather -> Unsqueeze -> Concat -> Reshape,
    and the padded AvgPool2d exports Pad + AveragePool."""

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.pool1 = nn.AvgPool2d(2, padding=1, count_include_pad=True)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, classes)

    def forward(self, x):
        x = self.pool1(F.relu(self.conv1(x)))[:, :, :14, :14]
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def conv_bn(cin, cout, k, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, c, expand):
        super().__init__()
        h = c * expand
        self.conv = nn.Sequential(conv_bn(c, h, 1), conv_bn(h, h, 3, groups=h), conv_bn(h, c, 1, act=False))

    def forward(self, x):
        return x + self.conv(x)


class MobileNetBlock(nn.Module):
    """A MobileNetV2-style network on 3x32x32: ReLU6 (Clip), depthwise convolutions, BatchNorm, a residual."""

    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(conv_bn(3, 8, 3, stride=2), InvertedResidual(8, 4), conv_bn(8, 16, 1))
        self.classifier = nn.Linear(16, classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, T, C = x.shape
        qkv = self.qkv(x).reshape(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = (q @ k.transpose(-2, -1)) * (C // self.heads) ** -0.5
        y = (a.softmax(dim=-1) @ v).transpose(1, 2).reshape(B, T, C)
        return self.proj(y)


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """A VisionTransformer on 3x32x32: 8x8 patches, a class token, 2 blocks of LayerNorm, 2-head attention
    (runtime-computed reshapes) and a GELU (Erf) MLP."""

    def __init__(self, classes=10, dim=32, heads=2, depth=2):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 8, 8)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, 17, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


class MixerBlock(nn.Module):
    def __init__(self, tokens, dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.token_mlp = nn.Sequential(nn.Linear(tokens, 2 * tokens), nn.GELU(), nn.Linear(2 * tokens, tokens))
        self.norm2 = nn.LayerNorm(dim)
        self.channel_mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.token_mlp(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mlp(self.norm2(x))


class MlpMixer(nn.Module):
    """An MLP-Mixer on 3x32x32: 8x8 patches (Conv), 2 blocks of LayerNorm, a token-mixing MLP across the 16
    patches (Transpose, GELU as Erf) and a channel-mixing MLP, then the mean over tokens."""

    def __init__(self, classes=10, dim=32, depth=2):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 8, 8)
        self.blocks = nn.Sequential(*[MixerBlock(16, dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.blocks(self.patch(x).flatten(2).transpose(1, 2))
        return self.head(self.norm(x).mean(dim=1))


class Mlp(nn.Module):
    """A plain MLP on 1x28x28: Flatten, Linear, ReLU, Linear, ReLU, Linear."""

    def __init__(self, classes=10):
        super().__init__()
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(),
                                    nn.Linear(32, classes))

    def forward(self, x):
        return self.layers(x)


def resnet18():
    import torchvision
    return torchvision.models.resnet18(num_classes=10)


def without_dropout(model):
    """Dropout p = 0: torch's masks and ours are different random draws, so the references compare the rest."""
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    return model


def mobilenet_v2():
    import torchvision
    return without_dropout(torchvision.models.mobilenet_v2(num_classes=10))


def squeezenet1_1():
    import torchvision
    return without_dropout(torchvision.models.squeezenet1_1(num_classes=10))


def shufflenet_v2_x0_5():
    import torchvision
    return torchvision.models.shufflenet_v2_x0_5(num_classes=10)


MODELS = {
    'lenet5': (LeNet5, (1, 28, 28)),
    'mobilenet_block': (MobileNetBlock, (3, 32, 32)),
    'tiny_vit': (TinyViT, (3, 32, 32)),
    'resnet18': (resnet18, (3, 64, 64)),
    'mobilenet_v2': (mobilenet_v2, (3, 64, 64)),
    'squeezenet1_1': (squeezenet1_1, (3, 64, 64)),
    'shufflenet_v2_x0_5': (shufflenet_v2_x0_5, (3, 64, 64)),
    'mlp_mixer': (MlpMixer, (3, 32, 32)),
    'mlp': (Mlp, (1, 28, 28)),
}

# Models whose references (logits, loss, gradients, Adam's losses) are computed in float64, stored as float32:
# shufflenet's BatchNorms over 2x2 planes make float32 noisy. torch's own float32 gradient of its first
# convolution is 1.3e-2 (of the largest gradient) away from its float64 one, ours 8.5e-5; and after one Adam
# step (every weight moves by lr times the sign of its gradient) torch's float32 loss is 3.6% away from its
# float64 loss, ours 1e-5. A float32 reference would hide a real error under that noise.
FLOAT64_REFERENCE = {'shufflenet_v2_x0_5'}


def batch(shape, classes=10):
    f = shape[0] * shape[1] * shape[2]
    j = torch.arange(f, dtype=torch.float64)
    x = torch.stack([torch.sin(0.37 * j + 1.3 * b) for b in range(BATCH)]).float().reshape(BATCH, *shape)
    y = torch.tensor([(3 * b) % classes for b in range(BATCH)])
    return x, y


def save_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().float().numpy().tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(chunks))


def export_training_mode(model, x, path):
    """As docs/import.md says to export for fine-tuning (the batch axis dynamic)."""
    torch.onnx.export(model, x, path, training=torch.onnx.TrainingMode.TRAINING,
                      do_constant_folding=False, opset_version=17, input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}})


def export(name, out):
    make, shape = MODELS[name]
    torch.manual_seed(0)
    model = make()
    x, y = batch(shape)
    model.train()
    export_training_mode(model, x, f'{out}/{name}.onnx')
    # The export ran a forward in training mode: running statistics moved. Start again from the same weights.
    torch.manual_seed(0)
    model = make()
    model.train()
    ref_model = model.double() if name in FLOAT64_REFERENCE else model
    logits = ref_model(x.to(next(ref_model.parameters()).dtype))
    loss = F.cross_entropy(logits, y)
    loss.backward()
    ref = {'input': x, 'labels': y.float(), 'logits': logits.detach().clone(), 'loss': loss.detach().reshape(1)}
    for p_name, p in ref_model.named_parameters():
        ref[f'grad.{p_name}'] = p.grad.detach().clone()
    opt = torch.optim.Adam(ref_model.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        step_loss = F.cross_entropy(ref_model(x.to(logits.dtype)), y)
        losses.append(step_loss.item())
        step_loss.backward()
        opt.step()
    ref['adam.loss'] = torch.tensor(losses)
    save_safetensors(f'{out}/{name}.ref.safetensors', ref)


if __name__ == '__main__':
    out = sys.argv[1]
    for n in sys.argv[2:] or ['lenet5', 'mobilenet_block', 'tiny_vit', 'mlp_mixer', 'mlp']:
        export(n, out)
