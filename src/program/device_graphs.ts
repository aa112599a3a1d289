/**
 * Training graphs for a GPU provider whose state stays on the device (WebGPU): built from train_step by
 * rewriting what the provider has no kernel for, so that no node falls back to the CPU and a step copies
 * nothing between host and device (its loss and correct count are read back per chunk).
 *
 * - The batch is gathered on the device from the data set (uploaded once) by the rows of a per-chunk
 *   index table, at a device-resident iteration counter (int32: the provider has no int64 arithmetic).
 * - Labels are one-hot float rows of the data set; cross-entropy is written out (x - max - log sum exp),
 *   since the provider has no SoftmaxCrossEntropyLoss, and the correct count is a float.
 * - The optimizer's per-step scalars (Adam's bias corrections, SGD's first-step momentum, in float64) are
 *   hoisted into a CPU graph run once per chunk for all its steps; the step graph gathers its row. The
 *   values are bit for bit those train_step computes.
 * - Cast of an ArgMax to float (the MaxPool gradient) becomes a Gather from 0..D-1: no int64 Cast.
 * - Size and Shape of static shapes become constants (their CPU kernels would copy the tensor to the host);
 *   Sum (no kernel) becomes a chain of Add.
 *
 * The CPU keeps train_loop: a Loop is a host-side kernel, and on a GPU provider it copies the state
 * through host memory every step (see README "GPU").
 */
import { GraphBuilder } from '../graph/builder.js';
import { attrInt, type Dim, type Graph, type Node, type ValueInfo } from '../graph/ir.js';
import * as names from '../graph/names.js';
import type { ModelSignature } from './signature.js';

/** Names of the device graphs' own inputs and outputs. */
export const ONEHOT_LABELS = 'onehot_labels';
export const ITERATION = 'iteration';
/** A per-step table input: row s holds `name`'s value for step s of the chunk. */
export const perStep = (name: string): string => `${name}.per_step`;
/** An upload graph's output: the input, on the device. */
export const onDevice = (name: string): string => `${name}.device`;
/** A read-back graph's output: the input, on the host. */
export const onHost = (name: string): string => `${name}.host`;

export interface DeviceTraining {
  /**
   * train_device: one step at iteration `i` of a chunk.
   * In:  images [M,C,H,W] f32, onehot_labels [M,K] f32, batch_indices [S,B] i32, iteration [] i32,
   *      `<scalar>.per_step` [S] f32 (tables, in `tables` order), trainable params..., state..., frozen
   *      params..., buffers..., `<noise>.per_step` [S,B,...] f32
   * Out: loss [] f32, correct [] f32, iteration.new [] i32, updated params..., updated state..., updated
   *      buffers... (as train_step)
   */
  step: Graph;
  /**
   * step_scalars (CPU): In: learning_rate [] f32, step [S] i64 (the chunk's step numbers). Out: one [S]
   * table per hoisted scalar, `<scalar>.per_step`, in `tables` order.
   */
  scalars: Graph;
  /** The hoisted scalars' table names: inputs of `step`, outputs of `scalars`. */
  tables: string[];
  /** The per-chunk inputs of `step` that the trainer uploads with each chunk (indices, iteration, tables, noise). */
  chunkInputs: ValueInfo[];
}

/** True when every input is one of `known` or an initializer, and at least one is in `known`. */
function readsOnly(n: Node, known: Set<string>, inits: Map<string, unknown>): boolean {
  const ins = n.inputs.filter((i) => i !== '');
  return ins.some((i) => known.has(i)) && ins.every((i) => known.has(i) || inits.has(i));
}

const SHAPE_OPS = new Set(['Reshape', 'Unsqueeze', 'Squeeze', 'Expand', 'Flatten']);

const withBatch = (shape: Dim[] | undefined, batch: number): Dim[] | undefined => shape?.map((d) => (d === 'N' ? batch : d));

/** Copy `n` into `b` with its inputs renamed by `alias`, its outputs typed as in `src` (batch made static). */
function copyNode(b: GraphBuilder, src: Graph, n: Node, alias: Map<string, string>, batch: number): void {
  for (const i of n.inputs) {
    const t = src.initializers.get(i);
    if (t && !b.graph.values.has(i)) b.initializer(i, t);
  }
  for (const o of n.outputs) {
    if (!o) continue;
    const v = src.values.get(o);
    b.graph.values.set(o, { name: o, dtype: v?.dtype ?? 'float32', shape: withBatch(v?.shape, batch) });
  }
  b.graph.nodes.push({ ...n, inputs: n.inputs.map((i) => alias.get(i) ?? i) });
}

/**
 * The device graphs for train_step `ts` (as compileGraphSet builds it) at batch size `batch`: static
 * shapes, so every shape computation folds into a constant when the session is made.
 */
export function buildDeviceTraining(ts: Graph, sig: ModelSignature, batch: number): DeviceTraining {
  const src = ts;
  const inits = src.initializers;

  // Scalar nodes: those computed from learning_rate and step alone; the frontier is what the rest reads.
  const scalar = new Set([names.LEARNING_RATE, names.STEP]);
  const scalarNodes = new Set<Node>();
  for (const n of src.nodes) {
    // Only elementwise nodes run over a vector of steps; a shape op (a scalar given a tensor's rank) stays per step.
    if (readsOnly(n, scalar, inits) && !SHAPE_OPS.has(n.opType)) {
      scalarNodes.add(n);
      n.outputs.forEach((o) => o && scalar.add(o));
    }
  }
  const frontier: string[] = [];
  for (const n of src.nodes) {
    if (scalarNodes.has(n)) continue;
    for (const i of n.inputs) if (scalar.has(i) && !frontier.includes(i)) frontier.push(i);
  }
  for (const o of src.outputs) if (scalar.has(o.name)) throw new Error(`device lowering: output '${o.name}' is a per-step scalar`);
  for (const f of frontier) {
    if (src.info(f).dtype !== 'float32') throw new Error(`device lowering: per-step scalar '${f}' is ${src.info(f).dtype}; only float32 scalars can be tabled`);
  }
  const tables = frontier.map(perStep);

  // step_scalars: the scalar nodes over a vector of steps (every one of them is elementwise).
  const sb = new GraphBuilder('step_scalars');
  sb.input(names.LEARNING_RATE, 'float32', []);
  sb.input(names.STEP, 'int64', ['S']);
  for (const n of src.nodes) if (scalarNodes.has(n)) copyNode(sb, src, n, new Map(), batch);
  const steps = sb.op1('Shape', [names.STEP]);
  frontier.forEach((f, k) => {
    sb.op1('Expand', [f, steps], {}, { outputs: [tables[k]] });
    sb.setInfo(tables[k], 'float32', ['S']);
    sb.output(tables[k]);
  });

  // train_device.
  const b = new GraphBuilder('train_device');
  const [C, H, W] = (src.info(names.INPUT).shape ?? []).slice(1) as number[];
  const logits = src.nodes.find((n) => n.opType === 'SoftmaxCrossEntropyLoss')?.inputs[0];
  if (!logits) throw new Error('device lowering: train_step has no SoftmaxCrossEntropyLoss');
  const K = src.info(logits).shape?.[1];
  if (typeof K !== 'number') throw new Error('device lowering: the class count must be static');
  const images = b.input(names.DATA_IMAGES, 'float32', ['M', C, H, W]);
  const onehotAll = b.input(ONEHOT_LABELS, 'float32', ['M', K]);
  const indices = b.input(names.BATCH_INDICES, 'int32', ['S', batch]);
  const iteration = b.input(ITERATION, 'int32', []);
  tables.forEach((t) => b.input(t, 'float32', ['S']));
  const carried = src.inputs.filter((i) => ![names.INPUT, names.LABELS, names.LEARNING_RATE, names.STEP].includes(i.name) && !sig.noise.some((n) => n.name === i.name));
  for (const i of carried) b.input(i.name, i.dtype, withBatch(i.shape, batch));
  for (const n of sig.noise) b.input(perStep(n.name), 'float32', ['S', ...withBatch(n.shape, batch)!]);
  const chunkInputs = [indices, iteration, ...tables, ...sig.noise.map((n) => perStep(n.name))].map((v) => ({ ...b.info(v) }));

  const rows = b.op1('Gather', [indices, iteration], { axis: 0 });
  b.op1('Gather', [images, rows], { axis: 0 }, { outputs: [names.INPUT] });
  b.refine(names.INPUT, [batch, C, H, W]);
  const onehot = b.op1('Gather', [onehotAll, rows], { axis: 0 });
  b.refine(onehot, [batch, K]);
  for (const n of sig.noise) {
    b.op1('Gather', [perStep(n.name), iteration], { axis: 0 }, { outputs: [n.name] });
    b.refine(n.name, withBatch(n.shape, batch));
  }
  frontier.forEach((f, k) => {
    b.op1('Gather', [tables[k], iteration], { axis: 0 }, { outputs: [f] });
    b.refine(f, []);
  });
  const nextIteration = b.op1('Add', [iteration, b.constant(1, 'int32')], {}, { outputs: [names.updated(ITERATION)] });

  // The nodes that read labels, and the correct-count chain (ArgMax -> Equal -> Cast -> ReduceSum).
  const producers = src.producers();
  const consumers = (v: string) => src.nodes.filter((n) => n.inputs.includes(v));
  const correctChain = new Set<Node>();
  for (let v = names.CORRECT; ;) {
    const p = producers.get(v);
    if (!p) throw new Error(`device lowering: no node makes '${v}'`);
    correctChain.add(p);
    if (p.opType === 'Equal') {
      const am = producers.get(p.inputs.find((i) => i !== names.LABELS)!);
      if (am?.opType !== 'ArgMax' || consumers(am.outputs[0]).length !== 1) throw new Error('device lowering: correct is not Equal(ArgMax(logits), labels)');
      correctChain.add(am);
      break;
    }
    v = p.inputs[0];
  }
  const alias = new Map<string, string>();
  const skip = new Set<Node>([...scalarNodes, ...correctChain]);
  for (const n of consumers(names.LABELS)) {
    if (skip.has(n) || n.opType === 'SoftmaxCrossEntropyLoss') continue;
    if (n.opType === 'Size') {
      alias.set(n.outputs[0], b.constant(batch, 'int64'));
      skip.add(n);
      continue;
    }
    // onehot(labels) = Cast(Equal(Unsqueeze(labels), 0..K-1)): the device has it already.
    const eq = n.opType === 'Unsqueeze' ? consumers(n.outputs[0]) : [];
    const cast = eq.length === 1 && eq[0].opType === 'Equal' ? consumers(eq[0].outputs[0]) : [];
    if (cast.length !== 1 || cast[0].opType !== 'Cast') throw new Error(`device lowering: no rule for ${n.opType} '${n.name}' reading labels`);
    alias.set(cast[0].outputs[0], onehot);
    [n, eq[0], cast[0]].forEach((m) => skip.add(m));
  }

  for (const n of src.nodes) {
    if (skip.has(n)) continue;
    if (n.opType === 'SoftmaxCrossEntropyLoss') {
      // L = -mean_i sum_c onehot[i,c] (x - max - log sum exp(x - max))[i,c]; log_prob as the CPU op gives it.
      const x = alias.get(n.inputs[0]) ?? n.inputs[0];
      const z = b.op1('Sub', [x, b.op1('ReduceMax', [x], { axes: [1], keepdims: 1 })]);
      const lse = b.op1('Log', [b.op1('ReduceSum', [b.op1('Exp', [z]), b.constant([1], 'int64')], { keepdims: 1 })]);
      const logProb = b.op1('Sub', [z, lse], {}, n.outputs[1] ? { outputs: [n.outputs[1]] } : {});
      const picked = b.op1('ReduceSum', [b.op1('Mul', [logProb, onehot]), b.constant([1], 'int64')], { keepdims: 0 });
      b.op1('Neg', [b.op1('ReduceMean', [picked], { axes: [0], keepdims: 0 })], {}, { outputs: [n.outputs[0]] });
      continue;
    }
    const xShape = n.inputs[0] ? b.graph.values.get(alias.get(n.inputs[0]) ?? n.inputs[0])?.shape : undefined;
    const fixed = xShape?.every((d) => typeof d === 'number') ? (xShape as number[]) : undefined;
    if (fixed && n.opType === 'Size') {
      // A CPU kernel: it would copy the whole tensor to the host for its size.
      alias.set(n.outputs[0], b.constant(fixed.reduce((a, d) => a * d, 1), 'int64'));
      continue;
    }
    if (fixed && n.opType === 'Shape' && !n.attrs.start && !n.attrs.end) {
      alias.set(n.outputs[0], b.constant(fixed, 'int64'));
      continue;
    }
    if (n.opType === 'Sum') {
      // The provider has no Sum kernel; Add broadcasts as Sum does.
      const ins = n.inputs.map((i) => alias.get(i) ?? i);
      let acc = ins[0];
      for (let k = 1; k < ins.length; k++) acc = b.op1('Add', [acc, ins[k]], {}, k === ins.length - 1 ? { outputs: [n.outputs[0]] } : {});
      if (ins.length === 1) b.op1('Identity', [acc], {}, { outputs: [n.outputs[0]] });
      b.refine(n.outputs[0], src.values.get(n.outputs[0])?.shape?.map((d) => (d === 'N' ? batch : d)));
      continue;
    }
    const p = n.opType === 'Cast' ? producers.get(n.inputs[0]) : undefined;
    if (p?.opType === 'ArgMax' && src.info(n.inputs[0]).dtype === 'int64') {
      // float(ArgMax) as a Gather from 0..D-1: the provider has no Cast from int64.
      const axisLen = src.info(p.inputs[0]).shape?.at(attrInt(p, 'axis', 0));
      if (typeof axisLen !== 'number') throw new Error(`device lowering: ArgMax '${p.name}' reduces a dynamic axis`);
      const to = attrInt(n, 'to', 1);
      if (to !== 1) throw new Error(`device lowering: Cast '${n.name}' of an ArgMax to ONNX type ${to}: only float is lowered`);
      const range = b.constant(Array.from({ length: axisLen }, (_, i) => i), 'float32');
      b.op1('Gather', [range, alias.get(n.inputs[0]) ?? n.inputs[0]], { axis: 0 }, { outputs: [n.outputs[0]] });
      continue;
    }
    copyNode(b, src, n, alias, batch);
  }
  // correct: the logits' first argmax (ArgMax keeps PyTorch's first-maximum choice) looked up in the one-hot row.
  const am = [...correctChain].find((n) => n.opType === 'ArgMax')!;
  const hit = b.op1('GatherElements', [onehot, b.op1('ArgMax', [am.inputs[0]], { axis: 1, keepdims: 1 })], { axis: 1 });
  b.op1('ReduceSum', [hit], { keepdims: 0 }, { outputs: [names.CORRECT] });

  b.output(names.LOSS);
  b.output(names.CORRECT);
  b.output(nextIteration);
  for (const o of src.outputs) if (o.name !== names.LOSS && o.name !== names.CORRECT) b.output(o.name);
  for (const v of b.graph.values.values()) v.shape = withBatch(v.shape, batch);
  return { step: b.graph, scalars: sb.graph, tables, chunkInputs };
}

/** One Identity per value: run with 'gpu-buffer' outputs it uploads them, with 'cpu' outputs it reads them back. */
export function buildIdentityGraph(name: string, values: ValueInfo[], rename: (v: string) => string): Graph {
  const b = new GraphBuilder(name);
  for (const v of values) b.output(b.op1('Identity', [b.input(v.name, v.dtype, v.shape)], {}, { outputs: [rename(v.name)] }));
  return b.graph;
}
