/** The 'crop' fit (pixels.ts): shorter side to the frame, aspect ratio kept, the middle cut out. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cropGeometry, framedInput, imageToInput, type RgbaImage } from '../../src/predict/pixels.js';
import { seeded } from '../helpers/seeded.js';

/** A w x h opaque RGBA image with channel values `at(x, y)` = [r, g, b]. */
function rgbImage(w: number, h: number, at: (x: number, y: number) => [number, number, number]): RgbaImage {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      data.set([...at(x, y), 255], (y * w + x) * 4);
    }
  }
  return { width: w, height: h, data };
}

const grey = (w: number, h: number, at: (x: number, y: number) => number) => rgbImage(w, h, (x, y) => [at(x, y), at(x, y), at(x, y)]);
/** mean 0, std 1/255: the model input in 0..255 units. */
const RAW = { mean: [0], std: [1 / 255] };

function assertNear(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < actual.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

test('crop, hand-checked: a 6 x 2 image into 2 x 2 keeps the middle columns; an 8 x 4 one is halved, then cut', () => {
  // Grey 10 x + 50 y. 6 x 2 -> 2 x 2: the height binds (scale 1), 4 columns too many, 2 cut off each side.
  const small = framedInput(grey(6, 2, (x, y) => 10 * x + 50 * y), { inputShape: [1, 2, 2], ...RAW, fit: 'crop' });
  assertNear(small.input, [20, 30, 70, 80], 1e-4, '6x2');
  assert.deepEqual([small.frame.x, small.frame.y, small.frame.width, small.frame.height, small.frame.cropped], [2, 0, 2, 2, true]);
  // 8 x 4 -> 2 x 2: scale 1/2 gives 4 x 2 (2 x 2 block means: columns 5, 25, 45, 65; rows 25, 125), then
  // columns 1 and 2 of those: 25 + 25, 45 + 25 / 25 + 125, 45 + 125.
  const halved = imageToInput(grey(8, 4, (x, y) => 10 * x + 50 * y), { inputShape: [1, 2, 2], ...RAW, fit: 'crop' });
  assertNear(halved, [50, 70, 150, 170], 1e-4, '8x4');
});

test('crop keeps the aspect ratio of a wide photo and its centred content centred; stretch does not', () => {
  // 90 x 60: a 30 x 30 white square in the middle; red bands 15 px wide at the left and right edges, which
  // a 32 x 32 crop cuts off (scaled to 48 x 32, 8 columns off each side = 15 source pixels).
  const img = rgbImage(90, 60, (x, y) => {
    if (x < 15 || x >= 75) return [200, 0, 0];
    return x >= 30 && x < 60 && y >= 15 && y < 45 ? [255, 255, 255] : [0, 0, 40];
  });
  assert.deepEqual(cropGeometry(90, 60, 32, 32), { scaledW: 48, scaledH: 32, left: 8, top: 0 });
  const box = (input: Float32Array): [number, number, number, number] => {
    let [x0, y0, x1, y1] = [32, 32, -1, -1];
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) {
      if (input[32 * 32 + y * 32 + x] > 127) [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
    }
    return [x0, y0, x1, y1];
  };
  const crop = framedInput(img, { inputShape: [3, 32, 32], ...RAW, fit: 'crop' });
  // The square becomes 30 * 32 / 60 = 16 px wide and high, at 8..23 both ways: square and centred.
  assert.deepEqual(box(crop.input), [8, 8, 23, 23]);
  assert.ok(crop.input.subarray(0, 1024).every((v) => v < 1e-3 || v > 254.99), 'no red band left: red is 0 or white');
  assert.deepEqual([crop.frame.x, crop.frame.y, crop.frame.width, crop.frame.height, crop.frame.cropped], [15, 0, 60, 60, true]);
  // Stretch squeezes the square to 30 * 32 / 90 = 10.7 px wide: no longer square, and the bands stay.
  const [sx0, sy0, sx1, sy1] = box(imageToInput(img, { inputShape: [3, 32, 32], ...RAW, fit: 'stretch' }));
  assert.ok(sx1 - sx0 + 1 <= 12 && sy1 - sy0 + 1 === 16, `stretch box ${[sx0, sy0, sx1, sy1]}`);
  // A tall photo is cut at the top and bottom instead; an image of the frame's own shape is not cut.
  assert.deepEqual(cropGeometry(60, 90, 32, 32), { scaledW: 32, scaledH: 48, left: 0, top: 8 });
  const square = grey(64, 64, (x, y) => (x * 3 + y) % 256);
  assert.deepEqual(imageToInput(square, { inputShape: [1, 32, 32], ...RAW, fit: 'crop' }), imageToInput(square, { inputShape: [1, 32, 32], ...RAW, fit: 'stretch' }));
  assert.equal(framedInput(square, { inputShape: [1, 32, 32], ...RAW, fit: 'crop' }).frame.cropped, false);
});

/**
 * An independent reference for shrinking: each output pixel is the integral of the source over its
 * rectangle in source coordinates (2-D, not separable), of the image scaled to (sw, sh), then cut at
 * torchvision's offsets, written out here rather than taken from pixels.ts.
 */
function referenceCrop(src: Float64Array, w: number, h: number, tw: number, th: number): Float64Array {
  const s = Math.max(tw / w, th / h);
  const sw = tw / w >= th / h ? tw : Math.trunc((w * th) / h);
  const sh = tw / w >= th / h ? Math.trunc((h * tw) / w) : th;
  const pyRound = (v: number) => (Math.abs(v - Math.trunc(v)) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v));
  const left = pyRound((sw - tw) / 2);
  const top = pyRound((sh - th) / 2);
  assert.ok(s <= 1, 'the reference only shrinks');
  const out = new Float64Array(tw * th);
  const overlap = (a0: number, a1: number, i: number) => Math.max(0, Math.min(a1, i + 1) - Math.max(a0, i));
  for (let oy = 0; oy < th; oy++) {
    const [y0, y1] = [((top + oy) * h) / sh, ((top + oy + 1) * h) / sh];
    for (let ox = 0; ox < tw; ox++) {
      const [x0, x1] = [((left + ox) * w) / sw, ((left + ox + 1) * w) / sw];
      let acc = 0;
      for (let y = Math.floor(y0); y < Math.ceil(y1); y++) {
        for (let x = Math.floor(x0); x < Math.ceil(x1); x++) acc += src[y * w + x] * overlap(x0, x1, x) * overlap(y0, y1, y);
      }
      out[oy * tw + ox] = acc / ((x1 - x0) * (y1 - y0));
    }
  }
  return out;
}

test('crop equals an independent 2-D area-average reference on random images of odd sizes', () => {
  const rand = seeded(3);
  for (const [w, h, tw, th] of [[37, 23, 8, 8], [23, 37, 8, 8], [50, 31, 10, 10], [41, 41, 9, 9], [64, 20, 12, 6], [20, 64, 5, 10]]) {
    const values = Float64Array.from({ length: w * h }, () => Math.floor(rand() * 256));
    const img = grey(w, h, (x, y) => values[y * w + x]);
    const ours = imageToInput(img, { inputShape: [1, th, tw], ...RAW, fit: 'crop' });
    assertNear(ours, referenceCrop(values, w, h, tw, th), 1e-3, `${w}x${h} -> ${tw}x${th}`);
  }
});

const PYTHON = '/usr/bin/python3';
const TORCHVISION = `
import json, sys, torch, numpy as np
from PIL import Image
import torchvision.transforms as T, torchvision.transforms.functional as F
out = []
for c in json.loads(sys.stdin.read()):
    h, w, s = c['h'], c['w'], c['size']
    resized = T.Resize(s)(torch.zeros(1, h, w))
    sh, sw = resized.shape[1:]
    cols = F.center_crop(torch.arange(sw, dtype=torch.float32).repeat(sh, 1)[None], [s, s])
    rows = F.center_crop(torch.arange(sh, dtype=torch.float32)[:, None].repeat(1, sw)[None], [s, s])
    r = {'scaledW': sw, 'scaledH': sh, 'left': int(cols[0, 0, 0]), 'top': int(rows[0, 0, 0])}
    if 'pixels' in c:
        img = Image.fromarray(np.array(c['pixels'], dtype=np.uint8).reshape(h, w))
        r['crop'] = np.asarray(T.CenterCrop(s)(T.Resize(s)(img))).reshape(-1).tolist()
    out.append(r)
print(json.dumps(out))
`;
const torchvisionHere = () => existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import torchvision, PIL'], { encoding: 'utf8' }).status === 0;

test('crop geometry equals torchvision Resize(S) + CenterCrop(S); enlarging, the pixels equal PIL bilinear to one level', (t) => {
  if (!torchvisionHere()) return t.skip('needs /usr/bin/python3 with torchvision');
  // Sizes with an odd excess (Python rounds half to even), tall and wide, shrinking and enlarging.
  const sizes: [number, number, number][] = [[37, 23, 8], [23, 37, 8], [35, 32, 32], [33, 32, 32], [37, 32, 32], [39, 32, 32], [224, 300, 224], [500, 375, 224], [7, 5, 4], [100, 3, 2], [12, 9, 32], [9, 15, 28]];
  const rand = seeded(5);
  const cases = sizes.map(([w, h, size]) => ({ w, h, size, ...(size > Math.min(w, h) ? { pixels: Array.from({ length: w * h }, () => Math.floor(rand() * 256)) } : {}) }));
  const py = spawnSync(PYTHON, ['-c', TORCHVISION], { input: JSON.stringify(cases), encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr);
  const ref = JSON.parse(py.stdout) as { scaledW: number; scaledH: number; left: number; top: number; crop?: number[] }[];
  cases.forEach((c, i) => {
    const { crop, ...geometry } = ref[i];
    assert.deepEqual(cropGeometry(c.w, c.h, c.size, c.size), geometry, `${c.w}x${c.h} -> ${c.size}`);
    // Enlarging, pixels.ts interpolates between pixel centres as PIL's bilinear filter does (PIL rounds to
    // 8 bits after each axis); shrinking, PIL's antialiasing triangle is not our area average: geometry only.
    if (c.pixels) {
      const ours = imageToInput(grey(c.w, c.h, (x, y) => c.pixels![y * c.w + x]), { inputShape: [1, c.size, c.size], ...RAW, fit: 'crop' });
      const worst = Math.max(...Array.from(ours, (v, k) => Math.abs(v - crop![k])));
      console.log(`# ${c.w}x${c.h} -> ${c.size}: largest difference from torchvision ${worst.toFixed(3)} levels`);
      assert.ok(worst <= 1, `${c.w}x${c.h}: ${worst}`);
    }
  });
});
