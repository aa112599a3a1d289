import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Graph, ValueInfo } from '../graph/ir.js';
import { allocate, numel, type Tensor } from '../graph/tensor.js';
import { initialWeights } from '../models/init.js';
import { buildModelDef, type ModelName, type ModelOptions } from '../models/registry.js';
import { OPSET } from '../onnx/opset.js';
import { encodeModel } from '../onnx/model.js';
import { defaultOptimizerSettings, type OptimizerKind, type OptimizerSettings } from '../optim/index.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/fsx.js';
import { saveCheckpoint } from './checkpoint.js';
import * as G from './graphs.js';

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

export const GRAPH_FILES = ['training.onnx', 'optimizer.onnx', 'eval.onnx', 'validation.onnx', 'train_step.onnx', 'train_loop.onnx'] as const;

const io = (v: ValueInfo) => ({ name: v.name, dtype: v.dtype, shape: v.shape ?? null });
const contract = (g: Graph) => ({ inputs: g.inputs.map(io), outputs: g.outputs.map(io) });

/** Zeroed optimizer state for the trainable parameters, keyed by state name. */
export function zeroState(sig: G.ModelSignature): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const { name, param: p } of G.stateSpecs(sig)) m.set(name, { dtype: p.dtype, dims: [...p.shape], data: allocate(p.dtype, numel(p.shape)) });
  return m;
}

/** Write graphs/<model>/: every graph, the initial checkpoint and manifest.json (the written contract). */
export async function buildArtifacts(s: BuildSettings) {
  const def = buildModelDef(s.model, s.options);
  const optimizer = s.optimizer ?? defaultOptimizerSettings('adam' as OptimizerKind);
  const gs: G.GraphSettings = { def, optimizer, frozen: s.frozen };
  const seed = s.seed ?? 0;
  const outDir = s.outDir ?? join('graphs', s.model);
  const sig = G.signature(gs);
  const weights = initialWeights(sig.all, seed);
  const graphs: Record<(typeof GRAPH_FILES)[number], Graph> = {
    'training.onnx': G.buildTrainingGraph(gs),
    'optimizer.onnx': G.buildOptimizer(gs),
    'eval.onnx': G.buildEvalGraph(gs, weights),
    'validation.onnx': G.buildValidationGraph(gs),
    'train_step.onnx': G.buildTrainStepGraph(gs),
    'train_loop.onnx': G.buildTrainLoopGraph(gs),
  };
  await mkdir(outDir, { recursive: true });
  const metadata = { model: s.model, options: JSON.stringify(def.options) };
  for (const [file, g] of Object.entries(graphs)) await writeFileAtomic(join(outDir, file), encodeModel(g, { metadata }));
  await saveCheckpoint(join(outDir, 'checkpoint.safetensors'), { weights, optimizerState: zeroState(sig), meta: { model: s.model, seed, epoch: 0, step: 0 } });
  const manifest = {
    format: 'onnxtrain-artifacts/1',
    model: s.model,
    options: def.options,
    opset: OPSET,
    dataset: def.dataset,
    seed,
    optimizer,
    hyperparameters: { learningRate: optimizer.lr, batchSize: 64, epochs: def.dataset.name === 'cifar10' ? 10 : 20 },
    parameters: sig.all.map((p) => ({ name: p.name, shape: p.shape, dtype: p.dtype, trainable: p.trainable, buffer: p.buffer })),
    optimizerState: G.stateSpecs(sig).map(({ name, slot, param }) => ({ name, param: param.name, slot, shape: param.shape })),
    noise: sig.noise,
    graphs: Object.fromEntries(Object.entries(graphs).map(([f, g]) => [f, contract(g)])),
    checkpoint: 'checkpoint.safetensors',
  };
  await writeJsonAtomic(join(outDir, 'manifest.json'), manifest);
  return { outDir, manifest };
}
