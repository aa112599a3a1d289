/**
 * importOnnx: an image classifier exported to ONNX (from PyTorch or elsewhere) as a ModelDef that
 * compile() and the trainer take like a seed model. Its float initializers become the parameters (named
 * as in the file, which for PyTorch's exports is the state_dict), BatchNorm running statistics become
 * buffers, and the graph is checked node by node before anything trains.
 */
import { buildGradients, MissingGradientError } from '../autodiff/gradients.js';
import { DEFAULT_NORMALIZATION, type Normalization } from '../data/normalize.js';
import { GraphBuilder } from '../graph/builder.js';
import { attrInt, type Graph, type Node } from '../graph/ir.js';
import * as names from '../graph/names.js';
import { emitForward, imageShape } from '../models/forward.js';
import type { ModelDef } from '../models/registry.js';
import { emitLossAndCorrect } from '../nn/loss.js';
import { decodeModel } from '../onnx/model.js';
import { RULES } from '../ops/index.js';
import { OnnxModule, type ImportedGraph, type Role } from './module.js';

/** Opsets whose ops mean what onnxtrain's opset-17 graphs say they mean. */
export const IMPORT_OPSETS = [13, 17] as const;

export interface ImportSettings {
  /** [channels, height, width] of one image. Default: the model input's, which must then be static. */
  input?: [number, number, number];
  /**
   * Outputs of the classifier. When it differs from the model's, the head (the last Gemm, or MatMul +
   * Add, before the output) gets this many outputs with PyTorch's Linear initialisation. Default: the model's.
   */
  numClasses?: number;
  /** Default '0', '1', ... */
  classNames?: string[];
  /** Default mean 0.5, std 0.5 (the seed models'); ImageNet-trained models want IMAGENET_NORMALIZATION. */
  normalization?: Normalization;
  /** Default 'model'. */
  name?: string;
}

/** torchvision's ImageNet statistics. */
export const IMAGENET_NORMALIZATION: Normalization = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

export interface ImportReport {
  /** The model's op types, how often each occurs, and whether gradients pass through it (or it is shape arithmetic). */
  modelOps: { opType: string; count: number; gradient: boolean }[];
  /** Every op type of the training forward pass as emitted (after shape folding), how often, and whether it has a gradient rule. */
  ops: { opType: string; count: number; gradient: boolean }[];
  parameters: { name: string; shape: number[] }[];
  buffers: string[];
  /** The head replaced by `numClasses`, if any. */
  newHead: string[];
  /** Classes the model outputs (after any new head). */
  numClasses: number;
  /** Things that train but probably not as intended (eval-mode exports). */
  warnings: string[];
}

export interface ImportedModel {
  def: ModelDef;
  report: ImportReport;
}

const FIX_EXPORT = 'export with torch.onnx.export(model, x, path, training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False, opset_version=17)';

/** Import an ONNX classifier; throws one line naming the problem and the fix. */
export function importOnnx(bytes: Uint8Array, s: ImportSettings = {}): ImportedModel {
  let decoded: ReturnType<typeof decodeModel>;
  try {
    decoded = decodeModel(bytes);
  } catch (e) {
    throw new Error(`not a readable ONNX model (${(e as Error).message}): ${FIX_EXPORT}`, { cause: e });
  }
  const { graph, opset } = decoded;
  refuseRecurrent(graph);
  if (opset < IMPORT_OPSETS[0] || opset > IMPORT_OPSETS[1]) throw new Error(`the model uses ai.onnx opset ${opset}; onnxtrain imports opsets ${IMPORT_OPSETS.join('..')}: ${FIX_EXPORT}`);
  const inputs = graph.inputs.filter((v) => !graph.initializers.has(v.name));
  if (inputs.length !== 1) throw new Error(`the model has ${inputs.length} inputs (${inputs.map((v) => v.name).join(', ')}); onnxtrain trains models with one image input`);
  const input = inputs[0];
  if (input.dtype !== 'float32' || (input.shape && input.shape.length !== 4)) {
    throw new Error(`the model's input '${input.name}' is ${input.dtype} [${input.shape ?? '?'}]; onnxtrain trains on float32 images [N, C, H, W]`);
  }
  const shape = s.input ?? staticImageShape(input.shape);
  if (!shape) throw new Error(`the model's input '${input.name}' has sizes [${input.shape ?? '?'}] that are not fixed: give the image size (--input C,H,W, e.g. --input 3,224,224)`);
  if (graph.outputs.length === 0) throw new Error('the model has no output');
  const output = graph.outputs[0].name;

  const roles = initializerRoles(graph);
  const shapes = new Map<string, number[]>();
  const head = findHead(graph, output, roles);
  const modelClasses = head ? head.outDims(graph) : undefined;
  const newHead: string[] = [];
  if (s.numClasses !== undefined && s.numClasses !== modelClasses) {
    if (!head) throw new Error(`cannot give the model ${s.numClasses} outputs: its output '${output}' does not come from a Gemm or MatMul + Add with weights (a Linear layer)`);
    const inFeatures = head.inDims(graph);
    for (const [name, dims] of head.resized(graph, s.numClasses)) {
      shapes.set(name, dims);
      roles.set(name, { kind: 'param', init: { kind: 'uniform', bound: 1 / Math.sqrt(inFeatures) } });
      newHead.push(name);
    }
  }
  const imported: ImportedGraph = { graph, input: input.name, output, roles, shapes };
  const numClasses = s.numClasses ?? modelClasses;
  const name = s.name ?? 'model';
  const def: ModelDef = {
    name,
    dataset: {
      name,
      inputShape: shape,
      classNames: s.classNames ?? (numClasses ? Array.from({ length: numClasses }, (_, i) => String(i)) : []),
      normalization: s.normalization ?? DEFAULT_NORMALIZATION,
    },
    root: new OnnxModule(imported),
  };
  const counts = new Map<string, number>();
  for (const n of graph.nodes) if (n.opType !== 'Constant') counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
  const modelOps = [...counts].map(([opType, count]) => ({ opType, count, gradient: Boolean(RULES[opType]?.grad) || opType === 'BatchNormalization' }));
  return { def, report: { modelOps, ...probe(def, graph, newHead, warningsOf(graph, roles)) } };
}

/** Ops whose backward is a loop over time steps: onnxtrain has no rule for them, and none of them folds away. */
const RECURRENT = ['LSTM', 'GRU', 'RNN', 'Scan', 'Loop'];

function refuseRecurrent(g: Graph): void {
  const n = g.nodes.find((m) => RECURRENT.includes(m.opType));
  if (!n) return;
  throw new Error(`the model has a ${n.opType} node ('${n.name}'): onnxtrain has no gradient for recurrent layers or loops; ` +
    'fine-tune it in PyTorch, or replace the recurrent layer by convolutions, attention or an MLP over the sequence before exporting');
}

function staticImageShape(shape: (number | string)[] | undefined): [number, number, number] | undefined {
  const chw = shape?.slice(1);
  return chw && chw.length === 3 && chw.every((d) => typeof d === 'number' && d > 0) ? (chw as [number, number, number]) : undefined;
}

/** Float initializers are parameters, BatchNormalization's mean and variance inputs buffers, the rest constants. */
function initializerRoles(g: Graph): Map<string, Role> {
  const used = new Set(g.nodes.flatMap((n) => n.inputs));
  const stats = new Set(g.nodes.filter((n) => n.opType === 'BatchNormalization').flatMap((n) => [n.inputs[3], n.inputs[4]]));
  const roles = new Map<string, Role>();
  for (const [name, t] of g.initializers) {
    if (!used.has(name)) continue;
    const init = { kind: 'tensor' as const, value: t };
    if (stats.has(name)) roles.set(name, { kind: 'buffer', init });
    else roles.set(name, t.dtype === 'float32' ? { kind: 'param', init } : { kind: 'constant' });
  }
  return roles;
}

interface Head {
  outDims(g: Graph): number;
  inDims(g: Graph): number;
  /** The head's parameters reshaped for k outputs. */
  resized(g: Graph, k: number): [string, number[]][];
}

/** The Linear layer that produces the output: Gemm(x, W, b), or Add(MatMul(x, W), b), through Identity/Flatten. */
function findHead(g: Graph, output: string, roles: Map<string, Role>): Head | undefined {
  const producers = g.producers();
  const isParam = (v: string | undefined) => v !== undefined && roles.get(v)?.kind === 'param';
  const dims = (v: string) => g.initializers.get(v)!.dims;
  let n: Node | undefined = producers.get(output);
  while (n && (n.opType === 'Identity' || n.opType === 'Flatten')) n = producers.get(n.inputs[0]);
  if (n?.opType === 'Gemm' && isParam(n.inputs[1])) {
    const [w, bias] = [n.inputs[1], n.inputs[2]];
    const outAxis = attrInt(n, 'transB', 0) ? 0 : 1;
    return {
      outDims: () => dims(w)[outAxis],
      inDims: () => dims(w)[1 - outAxis],
      resized: (_g, k) => [[w, dims(w).map((d, i) => (i === outAxis ? k : d))], ...(isParam(bias) ? [[bias, [k]] as [string, number[]]] : [])],
    };
  }
  if (n?.opType === 'Add') {
    const bias = n.inputs.find(isParam);
    const mm = n.inputs.map((i) => producers.get(i)).find((p) => p?.opType === 'MatMul' && isParam(p.inputs[1]));
    if (bias && mm && dims(mm.inputs[1]).length === 2) {
      const w = mm.inputs[1];
      return { outDims: () => dims(w)[1], inDims: () => dims(w)[0], resized: (_g, k) => [[w, [dims(w)[0], k]], [bias, [k]]] };
    }
  }
  return undefined;
}

/** PyTorch's eval-mode exports fold BatchNorm into Conv and name the folded weights onnx::...; ties show as Identity. */
function warningsOf(g: Graph, roles: Map<string, Role>): string[] {
  const out: string[] = [];
  const folded = g.nodes.filter((n) => n.opType === 'Conv' && n.inputs[1]?.startsWith('onnx::'));
  if (folded.length && !g.nodes.some((n) => n.opType === 'BatchNormalization')) {
    out.push(`${folded.length} Conv weights are named onnx::... and there is no BatchNormalization: the model was exported in eval mode with constant folding (BatchNorm folded into the convolutions), so it trains another parameterisation and --init by state_dict names will not match; ${FIX_EXPORT}`);
  }
  const tied = g.nodes.filter((n) => n.opType === 'Identity' && roles.get(n.inputs[0])?.kind === 'param');
  if (tied.length) out.push(`${tied.length} parameters are tied through Identity nodes (${tied.slice(0, 2).map((n) => `${n.outputs[0]} = ${n.inputs[0]}`).join(', ')}): they train as one tensor; ${FIX_EXPORT}`);
  return out;
}

/** Build the training forward pass and its gradients once: every op must have a rule. */
function probe(def: ModelDef, source: Graph, newHead: string[], warnings: string[]): Omit<ImportReport, 'modelOps'> {
  const b = new GraphBuilder('import');
  const x = b.input(names.INPUT, 'float32', imageShape(def));
  const y = b.input(names.LABELS, 'int64', ['N']);
  const { ctx, logits } = emitForward(b, def, 'train', x);
  const ls = b.info(logits).shape;
  if (!ls || ls.length !== 2) throw new Error(`the model's output is [${ls ?? '?'}]; onnxtrain trains classifiers whose output is [N, classes]`);
  const counts = new Map<string, number>();
  for (const n of b.graph.nodes) counts.set(n.opType, (counts.get(n.opType) ?? 0) + 1);
  const ops = [...counts].map(([opType, count]) => ({ opType, count, gradient: Boolean(RULES[opType]?.grad) }));
  const { loss } = emitLossAndCorrect(b, { logits, labels: y });
  try {
    buildGradients(b, loss, ctx.params.filter((p) => !p.buffer).map((p) => p.name));
  } catch (e) {
    if (e instanceof MissingGradientError) {
      const nodes = source.nodes.filter((n) => n.opType === e.opType).map((n) => `'${n.name}'`);
      const where = nodes.length ? ` (node ${nodes.slice(0, 3).join(', ')}${nodes.length > 3 ? ` and ${nodes.length - 3} more` : ''})` : '';
      throw new Error(`the model cannot be trained: no gradient rule for ${e.opType}${where}: replace that layer by one whose ops have rules (docs/import.md), or export it differently`, { cause: e });
    }
    const missing = ops.filter((o) => !RULES[o.opType]).map((o) => o.opType);
    const hint = missing.length ? ` (ops onnxtrain has no rule for: ${missing.join(', ')})` : '';
    throw new Error(`the model cannot be trained: ${(e as Error).message}${hint}`, { cause: e });
  }
  return {
    ops,
    parameters: ctx.params.filter((p) => !p.buffer).map((p) => ({ name: p.name, shape: p.shape })),
    buffers: ctx.params.filter((p) => p.buffer).map((p) => p.name),
    newHead,
    numClasses: Number(ls[1]),
    warnings,
  };
}

/** The report as lines for a terminal. */
export function formatImportReport(r: ImportReport): string[] {
  const n = r.parameters.reduce((s, p) => s + p.shape.reduce((a, d) => a * d, 1), 0);
  const lines = [
    `ops: ${r.modelOps.map((o) => `${o.opType} x${o.count}${o.gradient ? '' : ' (no gradient: shape arithmetic)'}`).join(', ')}`,
    `${r.parameters.length} parameter tensors (${n.toLocaleString('en-US')} values), ${r.buffers.length} buffers; ${r.numClasses} classes` +
      (r.newHead.length ? `; new head: ${r.newHead.join(', ')}` : ''),
  ];
  return [...lines, `parameters by first name part (for --freeze): ${parameterGroups(r.parameters)}`, ...r.warnings.map((w) => `warning: ${w}`)];
}

/** 'conv1 1, bn1 2, layer1 12, ...': parameter tensors grouped by the first part of their names, in model order. */
function parameterGroups(params: ImportReport['parameters']): string {
  const groups = new Map<string, number>();
  for (const p of params) {
    const head = p.name.split('.')[0];
    groups.set(head, (groups.get(head) ?? 0) + 1);
  }
  return [...groups].map(([k, n]) => `${k} ${n}`).join(', ');
}
