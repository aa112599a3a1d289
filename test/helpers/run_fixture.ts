import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { GraphBuilder } from '../../src/graph/builder.js';
import { INPUT, LOGITS, PROBABILITIES } from '../../src/graph/names.js';
import { tensor } from '../../src/graph/tensor.js';
import { encodeModel } from '../../src/onnx/model.js';
import type { RunConfig } from '../../src/predict/run_config.js';
import { seeded } from './seeded.js';

export { seeded };

export interface RunFixtureSettings {
  /** Folder to write the run into; default a fresh folder under the OS temp dir. */
  dir?: string;
  /** [C, H, W]; default [1, 28, 28]. */
  inputShape?: [number, number, number];
  /** Hidden units of the MLP; default 32. */
  hidden?: number;
  /** Weight seed; default 1. */
  seed?: number;
  /** Write samples/ with three PNGs of different sizes and colours; default true. */
  samples?: boolean;
  /** The fit config.json records (as an image-folder run does); default none. */
  fit?: RunConfig['fit'];
}

export interface RunFixture {
  dir: string;
  config: RunConfig;
  /** Absolute paths of the sample images written. */
  samples: string[];
}

const FASHION = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** The eval graph: Flatten -> Gemm -> Relu -> Gemm -> logits, Softmax -> probabilities; seeded weights. */
export function fixtureModel(inputShape: [number, number, number], hidden: number, classes: number, seed: number): Uint8Array {
  const rand = seeded(seed);
  const uniform = (n: number, bound: number) => Array.from({ length: n }, () => (rand() * 2 - 1) * bound);
  const features = inputShape[0] * inputShape[1] * inputShape[2];
  const b = new GraphBuilder('fixture_mlp');
  const x = b.input(INPUT, 'float32', ['N', ...inputShape]);
  const flat = b.op1('Flatten', [x], { axis: 1 });
  b.refine(flat, ['N', features]);
  const w1 = b.initializer('fc1.weight', tensor('float32', [hidden, features], uniform(hidden * features, Math.sqrt(6 / features))));
  const b1 = b.initializer('fc1.bias', tensor('float32', [hidden], uniform(hidden, 0.1)));
  const h = b.op1('Relu', [b.op1('Gemm', [flat, w1, b1], { transB: 1 })]);
  b.refine(h, ['N', hidden]);
  // Large output weights so the softmax is far from uniform and the test compares informative numbers.
  const w2 = b.initializer('fc2.weight', tensor('float32', [classes, hidden], uniform(classes * hidden, 3 * Math.sqrt(6 / hidden))));
  const b2 = b.initializer('fc2.bias', tensor('float32', [classes], uniform(classes, 0.1)));
  b.op('Gemm', [h, w2, b2], { transB: 1 }, { outputs: [LOGITS] });
  b.op('Softmax', [LOGITS], { axis: 1 }, { outputs: [PROBABILITIES] });
  b.refine(LOGITS, ['N', classes]);
  b.refine(PROBABILITIES, ['N', classes]);
  b.output(LOGITS);
  b.output(PROBABILITIES);
  return encodeModel(b.graph, { metadata: { model: 'fixture-mlp' } });
}

export interface TestImageSettings {
  width: number;
  height: number;
  /** 1 grey, 3 RGB, 4 RGBA. */
  channels: 1 | 3 | 4;
  seed: number;
  /** Output format; default png. */
  format?: 'png' | 'jpeg' | 'webp';
}

/** A PNG (or other format) of a bright blob on a dark, noisy background: something a model reacts to. */
export async function writeTestImage(file: string, s: TestImageSettings): Promise<string> {
  const rand = seeded(s.seed);
  const { width, height, channels } = s;
  const px = Buffer.alloc(width * height * channels);
  const cx = width * (0.3 + 0.4 * rand());
  const cy = height * (0.3 + 0.4 * rand());
  const r = Math.min(width, height) * (0.2 + 0.2 * rand());
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
      for (let c = 0; c < channels; c++) {
        const v = c === 3 ? 128 + Math.floor(rand() * 128) : inside ? 150 + Math.floor(rand() * 105) : Math.floor(rand() * 60);
        px[(y * width + x) * channels + c] = v;
      }
    }
  }
  await mkdir(path.dirname(file), { recursive: true });
  const raw = sharp(px, { raw: { width, height, channels } });
  const img = channels === 1 ? raw.toColourspace('b-w') : raw;
  const format = s.format ?? 'png';
  await (format === 'png' ? img.png() : format === 'jpeg' ? img.jpeg({ quality: 90 }) : img.webp()).toFile(file);
  return file;
}

/** A training run folder as the trainer writes it: model.onnx, config.json and samples/. */
export async function makeRunFixture(settings: RunFixtureSettings = {}): Promise<RunFixture> {
  const { inputShape = [1, 28, 28], hidden = 32, seed = 1, samples = true } = settings;
  const dir = settings.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-run-')));
  await mkdir(dir, { recursive: true });
  const c = inputShape[0];
  const config: RunConfig = {
    model: 'simple-mlp',
    inputShape,
    classNames: FASHION,
    normalization: c === 1 ? { mean: [0.5], std: [0.5] } : { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] },
    ...(settings.fit ? { fit: settings.fit } : {}),
  };
  await writeFile(path.join(dir, 'model.onnx'), fixtureModel(inputShape, hidden, FASHION.length, seed));
  await writeFile(path.join(dir, 'config.json'), JSON.stringify({ ...config, epochs: 1 }, null, 2));
  const written: string[] = [];
  if (samples) {
    written.push(await writeTestImage(path.join(dir, 'samples', '0-exact-size.png'), { width: inputShape[2], height: inputShape[1], channels: c === 1 ? 1 : 3, seed: seed + 10 }));
    written.push(await writeTestImage(path.join(dir, 'samples', '1-colour-wide.png'), { width: 64, height: 48, channels: 3, seed: seed + 11 }));
    written.push(await writeTestImage(path.join(dir, 'samples', '2-grey-small.png'), { width: 20, height: 36, channels: 1, seed: seed + 12 }));
  }
  return { dir, config, samples: written };
}
