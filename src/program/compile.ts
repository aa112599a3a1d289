/**
 * The compile stage: a model definition and its training settings become the whole graph set and its
 * signature, once. `build-graphs` writes the set to disk (src/artifacts); the trainer opens sessions on it.
 */
import { dropUnusedConstants, type Graph } from '../graph/ir.js';
import type { Tensor } from '../graph/tensor.js';
import * as graphs from './graphs.js';
import { nchwcBlockSize } from './lowering/block_size.js';
import { lowerToNchwc } from './lowering/nchwc.js';
import { signature, type GraphSettings, type ModelSignature } from './signature.js';

export const GRAPH_NAMES = ['training', 'optimizer', 'eval', 'validation', 'train_step', 'train_loop'] as const;
export type GraphName = (typeof GRAPH_NAMES)[number];

export interface GraphSet {
  readonly settings: GraphSettings;
  readonly signature: ModelSignature;
  /** A graph of the set, built on first use. `eval` takes its parameters as inputs; see evalWith. */
  graph(name: GraphName): Graph;
  /** eval.onnx with these weights as initializers: the deployable model. */
  evalWith(weights: Map<string, Tensor>): Graph;
  /**
   * The graph as a session on `device` runs it: the portable graph, lowered for the device where a
   * lowering exists (the device lowerings live in src/program/lowering). The artifacts stay portable.
   * 'cpu': where the machine has onnxruntime's NCHWc kernels, the gradients built for the CPU (GradTarget)
   * and the convolutions moved onto those kernels (lowering/nchwc.ts).
   */
  graphFor(name: GraphName, device: string): Graph;
}

const BUILDERS: Record<GraphName, (c: graphs.Compiled) => Graph> = {
  training: graphs.buildTrainingGraph,
  optimizer: graphs.buildOptimizerOnlyGraph,
  eval: (c) => graphs.buildEvalGraph(c),
  validation: graphs.buildValidationGraph,
  train_step: graphs.buildTrainStepGraph,
  train_loop: graphs.buildTrainLoopGraph,
};

/** The graphs whose gradients depend on the target (GradTarget); the others are the same for every target. */
const WITH_GRADIENTS: ReadonlySet<GraphName> = new Set(['training', 'train_step', 'train_loop']);

export function compileGraphSet(settings: GraphSettings): GraphSet {
  const compiled: graphs.Compiled = { settings, sig: signature(settings) };
  const built = new Map<GraphName, Graph>();
  const lowered = new Map<GraphName, Graph>();
  return {
    settings,
    signature: compiled.sig,
    graph(name) {
      let g = built.get(name);
      if (!g) built.set(name, (g = dropUnusedConstants(BUILDERS[name](compiled))));
      return g;
    },
    evalWith: (weights) => dropUnusedConstants(graphs.buildEvalGraph(compiled, weights)),
    graphFor(name, device) {
      const block = device === 'cpu' ? nchwcBlockSize() : 0;
      if (!block) return this.graph(name);
      let g = lowered.get(name);
      if (!g) {
        const forCpu = WITH_GRADIENTS.has(name) ? dropUnusedConstants(BUILDERS[name]({ ...compiled, target: 'cpu' })) : this.graph(name);
        lowered.set(name, (g = lowerToNchwc(forCpu, block)));
      }
      return g;
    },
  };
}
