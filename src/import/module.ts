/**
 * An imported ONNX graph as a layer: build() emits its nodes through the BuildContext, so its
 * initializers become parameters and buffers under their own (state_dict) names, shape arithmetic folds
 * to constants (fold.ts), and the nodes whose meaning differs between training and evaluation
 * (BatchNormalization, Dropout) are emitted as onnxtrain's own layers emit them.
 */
import { attrFloat, type Dim, type Graph, type Node } from '../graph/ir.js';
import { noise } from '../graph/names.js';
import { numel } from '../graph/tensor.js';
import { perSample, type BuildContext, type Init } from '../nn/context.js';
import type { Module } from '../nn/module.js';
import { batchNormTraining } from '../ops/norm.js';
import { broadcastShape } from '../ops/shapes.js';
import { constantValue, evaluate, isNumeric, knownOf, shapeKnown, type Known } from './fold.js';

/** What the initializers are to the trainer. */
export type Role = { kind: 'param'; init: Init } | { kind: 'buffer'; init: Init } | { kind: 'constant' };

export interface ImportedGraph {
  graph: Graph;
  /** The graph input that takes the images. */
  input: string;
  /** The graph output that gives the class scores. */
  output: string;
  /** Role of each initializer the nodes use, in the model's initializer order. */
  roles: Map<string, Role>;
  /** Values (initializers) with new shapes: a replaced head. */
  shapes: Map<string, number[]>;
}

/** The module path of a parameter name: 'features.0.weight' -> 'features.0'. */
const moduleOf = (name: string): string => (name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : name);

export class OnnxModule implements Module {
  readonly type = 'OnnxModel';
  constructor(readonly m: ImportedGraph) {}

  build(ctx: BuildContext, _name: string, x: string): string {
    const { graph: g, roles } = this.m;
    const b = ctx.b;
    const env = new Map<string, string>([[this.m.input, x]]);
    const known = new Map<string, Known>();
    for (const [name, role] of roles) {
      const t = g.initializers.get(name)!;
      const shape = this.m.shapes.get(name) ?? t.dims;
      if (role.kind === 'param') env.set(name, ctx.param(name, shape, role.init));
      else if (role.kind === 'buffer') env.set(name, ctx.buffer(name, shape, role.init, t.dtype));
      else {
        const k = knownOf(t);
        if (k) known.set(name, k);
        else env.set(name, b.initializer(b.fresh('constant'), t));
      }
    }
    /** Nodes whose outputs hold the batch symbol: emitted only if something reads them at run time. */
    const deferred = new Map<string, Node>();
    /** A value of the imported graph as a value of ours: known numbers become constants on first use. */
    const value = (name: string): string => {
      if (!name) return '';
      const v = env.get(name);
      if (v) return v;
      const k = known.get(name);
      if (k && isNumeric(k)) {
        const c = b.constant(k.vals as number[], k.dtype, k.dims);
        env.set(name, c);
        return c;
      }
      const n = deferred.get(name);
      if (n) {
        emit(n, n.inputs.map(value));
        return env.get(name)!;
      }
      throw new Error(`value '${name}' is used before a node defines it: the graph is not in topological order`);
    };
    const emit = (n: Node, inputs: string[]): string[] => {
      const outs = b.op(n.opType, inputs, n.attrs, { outputs: n.outputs.map((o) => (o ? b.fresh(n.opType) : '')) });
      n.outputs.forEach((o, i) => o && env.set(o, outs[i]));
      return outs;
    };
    let dropouts = 0;
    for (const n of g.nodes) {
      if (n.domain && n.domain !== 'ai.onnx') throw new Error(`node '${n.name}' is ${n.domain}.${n.opType}: only standard ai.onnx ops can be trained; export without custom ops`);
      if (n.opType === 'Constant') {
        const t = constantValue(n);
        if (!t) throw new Error(`Constant node '${n.name}' has no value onnxtrain reads (sparse or string constants are not supported)`);
        const k = knownOf(t);
        if (k) known.set(n.outputs[0], k);
        else env.set(n.outputs[0], b.initializer(b.fresh('constant'), t));
        continue;
      }
      if (n.opType === 'Shape') {
        const s = b.info(value(n.inputs[0])).shape;
        if (s) {
          const k = shapeKnown(n, s);
          known.set(n.outputs[0], k);
          if (!isNumeric(k)) deferred.set(n.outputs[0], n);
          continue;
        }
      }
      if (n.opType === 'BatchNormalization') {
        env.set(n.outputs[0], batchNorm(ctx, n, value));
        continue;
      }
      if (n.opType === 'Dropout') {
        if (n.outputs[1] && g.nodes.some((m) => m.inputs.includes(n.outputs[1]))) throw new Error(`Dropout '${n.name}': its mask output is used; onnxtrain draws its own masks`);
        const ratio = n.inputs[1] ? known.get(n.inputs[1]) : undefined;
        if (n.inputs[1] && !ratio) throw new Error(`Dropout '${n.name}': the ratio must be a constant`);
        const p = ratio ? Number(ratio.vals[0]) : 0.5;
        const input = value(n.inputs[0]);
        env.set(n.outputs[0], ctx.mode === 'train' && p > 0 ? b.op1('Mul', [input, ctx.noiseInput(noise(`dropout${dropouts++}`), b.shape(input), p)]) : input);
        continue;
      }
      const ins = n.inputs.map((i) => known.get(i));
      const folded = evaluate(n, ins);
      if (folded) {
        folded.forEach((k, i) => n.outputs[i] && known.set(n.outputs[i], k));
        folded.forEach((k, i) => n.outputs[i] && !isNumeric(k) && deferred.set(n.outputs[i], n));
        continue;
      }
      const inputs = n.inputs.map((name, i) => (n.opType === 'Reshape' && i === 1 ? reshapeTarget(b, n, ins[1], b.info(value(n.inputs[0])).shape) ?? value(name) : value(name)));
      const outs = emit(n, inputs);
      // Shapes computed at run time but known here: the gradient rules need them.
      if ((n.opType === 'Expand' || n.opType === 'ConstantOfShape') && ins[n.opType === 'Expand' ? 1 : 0]) {
        const target = ins[n.opType === 'Expand' ? 1 : 0]!.vals;
        b.refine(outs[0], n.opType === 'Expand' ? broadcastSymbolic(b.info(inputs[0]).shape, target) : target);
      }
      this.row(ctx, n, outs[0]);
    }
    return value(this.m.output);
  }

  /** A summary row for each node that holds parameters. */
  private row(ctx: BuildContext, n: Node, y: string): void {
    const params = n.inputs.filter((i) => this.m.roles.get(i)?.kind === 'param');
    if (params.length === 0) return;
    const shapes = params.map((p) => this.m.shapes.get(p) ?? this.m.graph.initializers.get(p)!.dims);
    const outShape = ctx.b.info(y).shape ?? [];
    const weight = shapes[0];
    const macs = n.opType === 'Conv' ? perSample(outShape) * numel(weight.slice(1)) : n.opType === 'Gemm' || n.opType === 'MatMul' ? perSample(outShape) * (weight.length >= 2 ? weight[weight.length - 2] : 1) : 0;
    ctx.row({ name: moduleOf(params[0]), type: n.opType, outputShape: outShape, params: shapes.reduce((s, d) => s + numel(d), 0), trainable: !ctx.frozen.has(params[0]), macs });
  }
}

/** Expand's output shape: X's shape broadcast against a target that may hold the batch symbol. */
function broadcastSymbolic(s: Dim[] | undefined, target: Dim[]): Dim[] | undefined {
  if (!s) return undefined;
  const numericTarget = target.map((d) => (typeof d === 'number' ? d : 1));
  const out = broadcastShape(s, numericTarget);
  if (!out) return undefined;
  const off = out.length - target.length;
  return out.map((d, i) => (i >= off && typeof target[i - off] === 'string' && d === 1 ? target[i - off] : d));
}

/**
 * A Reshape's target with the batch symbol: entries equal to X's dim at the same place become 0 (copy
 * that dim), one other symbolic entry becomes -1 (infer it). Undefined when the target is not known.
 */
function reshapeTarget(b: BuildContext['b'], n: Node, k: Known | undefined, s: Dim[] | undefined): string | undefined {
  if (!k || isNumeric(k)) return undefined;
  const vals = k.vals.map((v, i) => (typeof v === 'number' ? v : s && s[i] === v ? 0 : v));
  const symbolic = vals.filter((v) => typeof v !== 'number');
  if (symbolic.length > 1 || (symbolic.length === 1 && vals.includes(-1))) {
    throw new Error(`Reshape '${n.name}': its target [${k.vals}] depends on the batch size in more than one place; reshape with -1 or x.size(0) at the same position`);
  }
  return b.constant(vals.map((v) => (typeof v === 'number' ? v : -1)), 'int64');
}

/**
 * BatchNormalization as PyTorch's BatchNorm: training normalises with the batch statistics (as nn/batchnorm.ts
 * does, ops/norm.ts batchNormTraining) and moves the running statistics by
 * torch's momentum (1 - ONNX's momentum) with the unbiased batch variance; evaluation uses the running
 * statistics. Whatever training_mode the export wrote: the trainer decides the mode.
 */
function batchNorm(ctx: BuildContext, n: Node, value: (name: string) => string): string {
  const b = ctx.b;
  const [x, scale, bias, rm, rv] = n.inputs.map(value);
  const eps = attrFloat(n, 'epsilon', 1e-5);
  if (ctx.mode === 'eval') return b.op1('BatchNormalization', [x, scale, bias, rm, rv], { epsilon: { kind: 'float', value: eps } });
  const t = batchNormTraining(b, x, scale, bias, { mean: rm, var: rv }, eps, 1 - attrFloat(n, 'momentum', 0.9));
  ctx.updateBuffer(rm, t.runningMean);
  ctx.updateBuffer(rv, t.runningVar);
  const C = b.shape(scale)[0] as number;
  const y = t.y;
  ctx.row({ name: moduleOf(n.inputs[1]), type: 'BatchNormalization', outputShape: b.shape(y), params: 2 * C, trainable: !ctx.frozen.has(n.inputs[1]), macs: 2 * perSample(b.shape(y)) });
  return y;
}

