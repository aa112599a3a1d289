/** The training half of a trainable page (export-web --trainable): train_step.onnx, teach.json, replay.bin. */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { manifestOf } from '../artifacts/build.js';
import { loadDataset } from '../data/datasets.js';
import { selectClasses } from '../data/prepare.js';
import { Rng } from '../data/rng.js';
import type { Graph } from '../graph/ir.js';
import { numel, type Tensor } from '../graph/tensor.js';
import { buildModelDef, isModelName, type ModelDef } from '../models/registry.js';
import { layerRows } from '../models/summary.js';
import type { ParamSpec } from '../nn/context.js';
import { decodeModel, encodeModel } from '../onnx/model.js';
import type { OptimizerSettings } from '../optim/index.js';
import { compileGraphSet } from '../program/compile.js';
import { TRAINING_DEFAULTS } from '../program/defaults.js';
import { initializerSpans } from './model_offsets.js';
import type { TeachConfig } from './page/teach_config.js';

export interface TrainableSettings {
  /** Train every layer; default false: only the classifier head (the last layer with parameters). */
  trainAll?: boolean;
  /** Original training images shipped for replay, balanced over the classes; default 300. */
  replay?: number;
  /** Dataset folder searched for the replay images. Default data/<dataset> and the system folder. */
  dataDir?: string;
  /** Batch size of a fine-tuning step; default 32. */
  batchSize?: number;
  /**
   * Spare rows of the classifier head the user can turn into new classes in the page; default 4. With
   * 0 the page's model.onnx is the run's, byte for byte.
   */
  newClasses?: number;
}

/**
 * The bias of a spare head row until the page activates it: its logit is this plus 0 (the row's weights
 * are 0), so softmax gives it exactly 0 in float32 (exp(-1e4) underflows), its cross-entropy gradient is
 * exactly 0, and the optimizer leaves the row as it is (Adam's update of a zero gradient is 0).
 */
export const SPARE_BIAS = -1e4;

/**
 * What the page's trainer is assumed to sustain in wasm (one thread), in multiply-adds per second: this
 * machine measured 1.6 to 2.5 GMAC/s on basic-cnn under heavy load (BENCHMARKS.md, bench_teach); a
 * phone is slower, so the limit below is generous.
 */
export const PAGE_MACS_PER_SECOND = 1.5e9;
/** The longest 100 fine-tuning steps may take, by that estimate, for the page to offer training. */
export const PAGE_SECONDS_PER_100_STEPS = 60;

/**
 * Multiply-adds of one training step per image: the forward pass, plus twice the forward cost of every
 * layer from the first trainable one on (the gradient of its input and of its weights).
 */
export function stepMacsPerImage(def: ModelDef, trainable: Set<string>): number {
  const rows = layerRows(def);
  const first = rows.findIndex((r) => r.params > 0 && trainable.has(`${r.name}.weight`));
  return rows.reduce((a, r, i) => a + r.macs * (first >= 0 && i >= first ? 3 : 1), 0);
}

/** Folder of the training files inside the export. */
export const TEACH_DIR = 'train';

interface SavedRunConfig {
  model?: unknown;
  options?: Record<string, unknown>;
  optimizer?: OptimizerSettings;
  dataset?: unknown;
  classes?: number[] | null;
  seed?: unknown;
}

/** The classifier head: the parameters of the last module that has parameters ('classifier.3'), as --freeze's head rule. */
function headOf(all: ParamSpec[]): Set<string> {
  const params = all.filter((p) => !p.buffer);
  const moduleOf = (name: string) => name.slice(0, name.lastIndexOf('.'));
  const last = moduleOf(params[params.length - 1].name);
  return new Set(params.filter((p) => moduleOf(p.name) === last).map((p) => p.name));
}

/**
 * The run's eval model with `spare` more rows in each head tensor: weights 0, biases SPARE_BIAS. Its
 * logits/probabilities leave the class dimension symbolic, so the page can slice the head back to the
 * active classes for a download (resizeInitializers) and the model stays valid.
 */
function widenedModel(bytes: Uint8Array, evalWith: (w: Map<string, Tensor>) => Graph, head: ParamSpec[], classes: number, spare: number, model: string): Uint8Array {
  const decoded = decodeModel(bytes);
  const weights = new Map(decoded.graph.initializers);
  for (const p of head) {
    const t = weights.get(p.name);
    if (!t || t.dtype !== 'float32' || t.dims[0] !== classes) throw new Error(`export-web --trainable: model.onnx has no float32 '${p.name}' with ${classes} rows; export a run folder as training wrote it`);
    const per = t.data.length / classes;
    const data = new Float32Array((classes + spare) * per);
    data.set(t.data as Float32Array);
    if (t.dims.length === 1) data.fill(SPARE_BIAS, classes);
    weights.set(p.name, { dtype: 'float32', dims: [classes + spare, ...t.dims.slice(1)], data });
  }
  const g = evalWith(weights);
  for (const o of g.outputs) if (o.shape?.length === 2) o.shape = [o.shape[0], 'classes'];
  return encodeModel(g, { metadata: { ...decoded.metadata, model } });
}

/** `count` rows of `split`, seeded, taking classes in turn so each class gets the same share. */
function balancedRows(labels: Uint8Array, classes: number, count: number, seed: number): number[] {
  const order = Rng.fromSeed(seed, 'replay').permutation(labels.length);
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (const i of order) if (labels[i] < classes) byClass[labels[i]].push(i);
  const rows: number[] = [];
  for (let k = 0; rows.length < count; k++) {
    let took = false;
    for (const list of byClass) {
      if (k < list.length && rows.length < count) {
        rows.push(list[k]);
        took = true;
      }
    }
    if (!took) break;
  }
  return rows;
}

/**
 * Write `<out>/train/`: the run's train_step graph (portable ai.onnx, compiled from the run's config with
 * all but the head frozen unless trainAll), the replay images, and teach.json (the graph's contract, the
 * optimizer state layout, and where each parameter's bytes lie in model.onnx). Returns teach.json's path
 * relative to `out`, and the page's model.onnx when it differs from the run's (spare head rows for new
 * classes).
 */
export async function writeTrainable(runDir: string, modelPath: string, out: string, s: TrainableSettings = {}): Promise<{ teach: string; model: Uint8Array | null }> {
  const configPath = path.join(runDir, 'config.json');
  const cfg = JSON.parse(await readFile(configPath, 'utf8')) as SavedRunConfig;
  const model = String(cfg.model);
  if (!isModelName(model)) throw new Error(`export-web --trainable: ${configPath} names model '${model}', which is not a model onnxtrain can build; only runs of its seed models can be fine-tuned in the page`);
  if (!cfg.optimizer || typeof cfg.dataset !== 'string') throw new Error(`export-web --trainable: ${configPath} lacks "optimizer" or "dataset"; it was not written by npm run train, so the page cannot rebuild its training graph`);
  const spare = s.newClasses ?? 4;
  if (!(Number.isInteger(spare) && spare >= 0 && spare <= 100)) throw new Error(`export-web --trainable: --new-classes must be a whole number from 0 to 100, got ${spare}`);
  const runDef = buildModelDef(model, cfg.options ?? {});
  const classes = runDef.options?.numClasses ?? runDef.dataset.classNames.length;
  const def = spare ? buildModelDef(model, { ...(cfg.options ?? {}), numClasses: classes + spare }) : runDef;
  const probe = compileGraphSet({ def, optimizer: cfg.optimizer }).signature;
  const head = headOf(probe.all);
  const headParams = probe.all.filter((p) => head.has(p.name));
  const frozen = s.trainAll ? [] : probe.all.filter((p) => !p.buffer && !head.has(p.name)).map((p) => p.name);
  const batchSize = s.batchSize ?? Math.min(32, TRAINING_DEFAULTS.batchSize);
  const macs = batchSize * stepMacsPerImage(def, new Set(probe.all.filter((p) => !frozen.includes(p.name)).map((p) => p.name)));
  const seconds = (100 * macs) / PAGE_MACS_PER_SECOND;
  if (seconds > PAGE_SECONDS_PER_100_STEPS) {
    throw new Error(`export-web --trainable: ${model}${s.trainAll ? ' with --train-all' : ''} needs ${(macs / 1e9).toFixed(2)} G multiply-adds a step (batch ${batchSize}), about ${Math.round(seconds)} s per 100 steps in a browser, too slow to train in the page (limit ${PAGE_SECONDS_PER_100_STEPS} s); ${s.trainAll ? 'train only the head (drop --train-all) or ' : ''}fine-tune it in Node with npm run train -- ${model} --init <run>`);
  }
  const set = compileGraphSet({ def, optimizer: cfg.optimizer, frozen });
  const sig = set.signature;
  if (sig.noise.length) {
    throw new Error(`export-web --trainable: ${model} with dropout needs random masks every step, which the page does not make yet; export a run trained without --dropout`);
  }

  let modelBytes: Uint8Array = new Uint8Array(await readFile(modelPath));
  if (spare) {
    modelBytes = widenedModel(modelBytes, set.evalWith.bind(set), headParams, classes, spare, model);
  }
  const spans = initializerSpans(modelBytes);
  const role = (name: string, buffer: boolean): TeachConfig['parameters'][number]['role'] =>
    buffer ? 'buffer' : sig.trainable.some((p) => p.name === name) ? 'trainable' : 'frozen';
  const parameters = sig.all.map((p) => {
    const span = spans.get(p.name);
    const want = numel(p.shape) * 4;
    if (p.dtype !== 'float32' || !span || span.bytes !== want) {
      throw new Error(`export-web --trainable: ${modelPath} has no float32 initializer '${p.name}' of ${want} bytes as ${model} with these options needs; the model and config.json do not belong together: export a run folder as training wrote it`);
    }
    return { name: p.name, shape: p.shape.map(Number), role: role(p.name, p.buffer), offset: span.offset, bytes: span.bytes };
  });

  const graph = set.graph('train_step');
  const graphBytes = encodeModel(graph, { metadata: { model, options: JSON.stringify(def.options ?? {}) } });
  const manifest = manifestOf(set, Number(cfg.seed ?? 0), { 'train_step.onnx': graph });

  const count = s.replay ?? 300;
  const dir = path.join(out, TEACH_DIR);
  const [C, H, W] = def.dataset.inputShape;
  let replay = { n: 0, images: new Uint8Array(0), labels: new Uint8Array(0) };
  if (count > 0) {
    let data;
    try {
      data = await loadDataset(cfg.dataset, { dataDir: s.dataDir, download: false });
    } catch (e) {
      throw new Error(`export-web --trainable: the replay images come from ${cfg.dataset}, which could not be read (${(e as Error).message.split('\n')[0]}); give its folder with --data-dir, or pass --replay 0`);
    }
    const train = cfg.classes ? selectClasses(data.train, cfg.classes) : data.train;
    const rows = balancedRows(train.labels, def.options?.numClasses ?? def.dataset.classNames.length, count, Number(cfg.seed ?? 0));
    const per = C * H * W;
    const images = new Uint8Array(rows.length * per);
    const labels = new Uint8Array(rows.length);
    rows.forEach((r, i) => {
      images.set(train.images.subarray(r * per, (r + 1) * per), i * per);
      labels[i] = train.labels[r];
    });
    replay = { n: rows.length, images, labels };
  }
  const replayFile = new Uint8Array(replay.images.length + replay.labels.length);
  replayFile.set(replay.images, 0);
  replayFile.set(replay.labels, replay.images.length);

  const teach: TeachConfig = {
    format: 'onnxtrain-teach/1',
    model,
    graph: `${TEACH_DIR}/train_step.onnx`,
    graphBytes: graphBytes.length,
    contract: manifest.graphs['train_step.onnx'] as TeachConfig['contract'],
    parameters,
    optimizerState: manifest.optimizerState.map((st) => ({ ...st, shape: st.shape.map(Number) })),
    optimizer: cfg.optimizer as unknown as TeachConfig['optimizer'],
    learningRate: cfg.optimizer.lr,
    batchSize,
    seed: Number(cfg.seed ?? 0),
    replay: { file: `${TEACH_DIR}/replay.bin`, count: replay.n, shape: [C, H, W] },
    classes: {
      count: classes,
      spare,
      spareBias: SPARE_BIAS,
      head: headParams.map((p) => p.name),
      fanIn: Number(headParams.find((p) => p.shape.length === 2)?.shape[1] ?? 1),
    },
  };
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'train_step.onnx'), graphBytes);
  await writeFile(path.join(dir, 'replay.bin'), replayFile);
  await writeFile(path.join(dir, 'teach.json'), JSON.stringify(teach, null, 2) + '\n');
  return { teach: `${TEACH_DIR}/teach.json`, model: spare ? modelBytes : null };
}
