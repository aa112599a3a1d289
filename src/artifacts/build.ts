/** Writes a graph set to disk: graphs/<model>/ with every graph, the initial checkpoint and manifest.json. */
import { join } from 'node:path';
import { defaultEpochs } from '../data/datasets.js';
import type { Graph, ValueInfo } from '../graph/ir.js';
import { initialWeights } from '../models/init.js';
import { buildModelDef, type ModelName, type ModelOptions } from '../models/registry.js';
import { encodeModel } from '../onnx/model.js';
import { OPSET } from '../onnx/opset.js';
import { defaultOptimizerSettings, type OptimizerSettings } from '../optim/index.js';
import { compileGraphSet, GRAPH_NAMES, type GraphSet } from '../program/compile.js';
import { TRAINING_DEFAULTS } from '../program/defaults.js';
import { stateSpecs, zeroState } from '../program/signature.js';
import { checkWritable, makeDir, writeFileAtomic, writeJsonAtomic } from '../util/fsx.js';
import { saveCheckpoint } from './checkpoint.js';

export const GRAPH_FILES = GRAPH_NAMES.map((g) => `${g}.onnx`);

export interface BuildSettings {
  model: ModelName;
  /** Architecture variant. Default: the reference model. */
  options?: Partial<ModelOptions>;
  /** Default adam with PyTorch's defaults. */
  optimizer?: OptimizerSettings;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  /** Output folder. Default graphs/<model>. */
  outDir?: string;
  frozen?: string[];
}

const io = (v: ValueInfo) => ({ name: v.name, dtype: v.dtype, shape: v.shape ?? null });
const contract = (g: Graph) => ({ inputs: g.inputs.map(io), outputs: g.outputs.map(io) });

/** The manifest: the written contract of a graph folder (README "Artifacts"). */
export function manifestOf(set: GraphSet, seed: number, graphs: Record<string, Graph>) {
  const { def, optimizer } = set.settings;
  const sig = set.signature;
  return {
    format: 'onnxtrain-artifacts/1',
    model: def.name,
    options: def.options ?? null,
    opset: OPSET,
    dataset: { name: def.dataset.name, inputShape: def.dataset.inputShape, classNames: def.dataset.classNames, normalization: def.dataset.normalization },
    seed,
    optimizer,
    hyperparameters: { learningRate: optimizer.lr, batchSize: TRAINING_DEFAULTS.batchSize, epochs: defaultEpochs(def.dataset.name) },
    parameters: sig.all.map((p) => ({ name: p.name, shape: p.shape, dtype: p.dtype, trainable: p.trainable, buffer: p.buffer })),
    optimizerState: stateSpecs(sig).map(({ name, slot, param }) => ({ name, param: param.name, slot, shape: param.shape })),
    noise: sig.noise,
    graphs: Object.fromEntries(Object.entries(graphs).map(([f, g]) => [f, contract(g)])),
    checkpoint: 'checkpoint.safetensors',
  };
}

/** Write a compiled graph set into `outDir`, with initial weights drawn from `seed`. */
export async function writeGraphSet(set: GraphSet, outDir: string, seed: number = TRAINING_DEFAULTS.seed) {
  const sig = set.signature;
  const weights = initialWeights(sig.all, seed);
  const graphs: Record<string, Graph> = Object.fromEntries(GRAPH_NAMES.map((g) => [`${g}.onnx`, g === 'eval' ? set.evalWith(weights) : set.graph(g)]));
  await checkWritable(outDir, `--out ${outDir}`);
  await makeDir(outDir);
  const metadata = { model: set.settings.def.name, options: JSON.stringify(set.settings.def.options ?? {}) };
  for (const [file, g] of Object.entries(graphs)) await writeFileAtomic(join(outDir, file), encodeModel(g, { metadata }));
  await saveCheckpoint(join(outDir, 'checkpoint.safetensors'), { weights, optimizerState: zeroState(sig), meta: { model: set.settings.def.name, seed, epoch: 0, step: 0 } });
  const manifest = manifestOf(set, seed, graphs);
  await writeJsonAtomic(join(outDir, 'manifest.json'), manifest);
  return { outDir, manifest };
}

/** `npm run build-graphs`: compile a seed model and write graphs/<model>/. */
export async function buildArtifacts(s: BuildSettings) {
  const def = buildModelDef(s.model, s.options);
  const set = compileGraphSet({ def, optimizer: s.optimizer ?? defaultOptimizerSettings('adam'), frozen: s.frozen });
  return writeGraphSet(set, s.outDir ?? join('graphs', s.model), s.seed);
}
