/**
 * `node dist/scripts/bench_ops.js [group...] [--rounds 40] [--threads N] [--spinning off|on]`
 *
 * A/B timings of alternative ONNX formulations of the backward kernels that dominate CNN training
 * (basic-cnn / complex-cnn shapes, batch 64). Variants of a group run interleaved, round after round,
 * and each reports its median, so that load from other processes on a shared machine hits all alike.
 * Every variant of a group is checked to give the same result as the first (the original rule).
 */
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../src/graph/builder.js';
import { numel } from '../src/graph/tensor.js';
import { encodeModel } from '../src/onnx/model.js';
import { castTo } from '../src/ops/shapes.js';

type Build = (b: GraphBuilder, v: Record<string, string>) => string;
interface Group { name: string; inputs: Record<string, number[]>; variants: Record<string, Build>; tolerance?: number }

const i64 = (b: GraphBuilder, v: number[]) => b.constant(v, 'int64');

/** Original rule: first maximum of each k x k block via SpaceToDepth, CumSum, DepthToSpace. */
const maxGradS2D = (k: number, [H, W]: number[]): Build => (b, v) => {
  const [Ho, Wo] = [H / k, W / k];
  const y = b.op1('MaxPool', [v.x], { kernel_shape: [k, k], strides: [k, k] });
  const blocks = b.op1('SpaceToDepth', [b.op1('Reshape', [v.x, i64(b, [-1, 1, H, W])])], { blocksize: k });
  const per = i64(b, [-1, 1, Ho, Wo]);
  const isMax = b.op1('Equal', [blocks, b.op1('Reshape', [y, per])]);
  const seen = b.op1('CumSum', [castTo(b, isMax, 'float32'), b.constant(1, 'int64')]);
  const first = b.op1('And', [isMax, b.op1('Equal', [seen, b.constant(1)])]);
  const routed = b.op1('Where', [first, b.op1('Reshape', [v.dy, per]), b.constant(0)]);
  return b.op1('Reshape', [b.op1('DepthToSpace', [routed], { blocksize: k }), b.op1('Shape', [v.x])]);
};

/** ArgMax over each block's taps (first maximum, as PyTorch), upsampled with dY by Resize; no DepthToSpace. */
const maxGradArgMax = (k: number, [H, W]: number[]): Build => (b, v) => {
  const blocks = b.op1('SpaceToDepth', [b.op1('Reshape', [v.x, i64(b, [-1, 1, H, W])])], { blocksize: k });
  const arg = castTo(b, b.op1('ArgMax', [blocks], { axis: 1, keepdims: 1 }), 'float32');
  const shape = b.op1('Shape', [v.x]);
  const scales = b.constant([1, 1, k, k]);
  const up = (t: string) => b.op1('Resize', [t, '', scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
  const tapIndex = b.constant(Array.from({ length: H * W }, (_, i) => (Math.floor(i / W) % k) * k + (i % W) % k), 'float32', [1, 1, H, W]);
  const argUp = up(b.op1('Reshape', [arg, b.op1('Shape', [v.dy])]));
  return b.op1('Where', [b.op1('Equal', [argUp, tapIndex]), up(v.dy), b.constant(0)]);
  void shape;
};

/** As maxGradArgMax, with the taps made the innermost axis by a Transpose so that ArgMax reduces contiguous runs. */
const maxGradArgMaxLast = (k: number, [H, W]: number[]): Build => (b, v) => {
  const [Ho, Wo] = [H / k, W / k];
  const taps = b.op1('Transpose', [b.op1('Reshape', [v.x, i64(b, [-1, Ho, k, Wo, k])])], { perm: [0, 1, 3, 2, 4] });
  const first = b.op1('ArgMax', [b.op1('Reshape', [taps, i64(b, [-1, Ho, Wo, k * k])])], { axis: 3, keepdims: 1 });
  const scales = b.constant([1, 1, k, k]);
  const up = (t: string) => b.op1('Resize', [t, '', scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
  const tapIndex = b.constant(Array.from({ length: H * W }, (_, i) => (Math.floor(i / W) % k) * k + (i % W) % k), 'float32', [1, 1, H, W]);
  const argUp = up(b.op1('Reshape', [castTo(b, first, 'float32'), b.op1('Shape', [v.dy])]));
  return b.op1('Where', [b.op1('Equal', [argUp, tapIndex]), up(v.dy), b.constant(0)]);
};

const maxGradIndices: Build = (b, v) => {
  const [, idx] = b.op('MaxPool', [v.x], { kernel_shape: [2, 2], strides: [2, 2] }, { outputs: 2 });
  return b.op1('MaxUnpool', [v.dy, idx, b.op1('Shape', [v.x])], { kernel_shape: [2, 2], strides: [2, 2] });
};

/** Original rule: Pad, one strided Slice per tap, Concat, batched MatMul, ReduceSum. */
const dwIm2col = (C: number, M: number, [H, W]: number[]): Build => (b, v) => {
  const xp = b.op1('Pad', [v.x, i64(b, [0, 0, 1, 1, 0, 0, 1, 1])]);
  const taps: string[] = [];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) taps.push(b.op1('Slice', [xp, i64(b, [i, j]), i64(b, [i + H, j + W]), i64(b, [2, 3])]));
  const cols = b.op1('Reshape', [b.op1('Concat', taps, { axis: 2 }), i64(b, [0, C * 9, H * W])]);
  const dYt = b.op1('Transpose', [b.op1('Reshape', [v.dy, i64(b, [0, M, H * W])])], { perm: [0, 2, 1] });
  const summed = b.op1('ReduceSum', [b.op1('MatMul', [cols, dYt]), i64(b, [0])], { keepdims: 0 });
  return b.op1('Reshape', [b.op1('Transpose', [summed], { perm: [1, 0] }), i64(b, [M, C, 3, 3])]);
};

/** Per tap a batched MatMul on the strided slice itself (no Concat), the 9 [N, C, M] products summed. */
const dwTapMatMuls = (C: number, M: number, [H, W]: number[]): Build => (b, v) => {
  const xp = b.op1('Pad', [v.x, i64(b, [0, 0, 1, 1, 0, 0, 1, 1])]);
  const dYt = b.op1('Transpose', [b.op1('Reshape', [v.dy, i64(b, [0, M, H * W])])], { perm: [0, 2, 1] });
  const parts: string[] = [];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const tap = b.op1('Reshape', [b.op1('Slice', [xp, i64(b, [i, j]), i64(b, [i + H, j + W]), i64(b, [2, 3])]), i64(b, [0, C, H * W])]);
      parts.push(b.op1('Unsqueeze', [b.op1('ReduceSum', [b.op1('MatMul', [tap, dYt]), i64(b, [0])], { keepdims: 0 }), i64(b, [2])]));
    }
  }
  // [C, M, 9] -> [M, C, 3, 3]
  return b.op1('Reshape', [b.op1('Transpose', [b.op1('Concat', parts, { axis: 2 })], { perm: [1, 0, 2] }), i64(b, [M, C, 3, 3])]);
};

/** X and dY with the batch axis moved inward once ([C, N, H, W], [M, N P]); per tap one Gemm with K = N P. */
const dwTapGemms = (C: number, M: number, [H, W]: number[]): Build => (b, v) => {
  const xt = b.op1('Pad', [b.op1('Transpose', [v.x], { perm: [1, 0, 2, 3] }), i64(b, [0, 0, 1, 1, 0, 0, 1, 1])]);
  const dyt = b.op1('Reshape', [b.op1('Transpose', [v.dy], { perm: [1, 0, 2, 3] }), i64(b, [M, -1])]);
  const parts: string[] = [];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const tap = b.op1('Reshape', [b.op1('Slice', [xt, i64(b, [i, j]), i64(b, [i + H, j + W]), i64(b, [2, 3])]), i64(b, [C, -1])]);
      parts.push(b.op1('Unsqueeze', [b.op1('Gemm', [dyt, tap], { transB: 1 }), i64(b, [2])]));
    }
  }
  return b.op1('Reshape', [b.op1('Concat', parts, { axis: 2 }), i64(b, [M, C, 3, 3])]);
};

/**
 * As dwTapGemms, on flattened padded planes: dY is padded at the bottom/right onto X's padded grid and
 * both flattened to [., N Hp Wp]; tap (i, j) is then X's flat row shifted by i Wp + j, a contiguous Slice.
 * K grows from N H W to N Hp Wp; the zero rows of dY cancel the extra products.
 */
const dwFlatShift = (C: number, M: number, [H, W]: number[]): Build => (b, v) => {
  const [Hp, Wp] = [H + 2, W + 2];
  const swap = { perm: [1, 0, 2, 3] };
  const shiftMax = 2 * Wp + 2;
  const xflat = b.op1('Reshape', [b.op1('Pad', [b.op1('Transpose', [v.x], swap), i64(b, [0, 0, 1, 1, 0, 0, 1, 1])]), i64(b, [C, -1])]);
  const xext = b.op1('Pad', [xflat, i64(b, [0, 0, 0, shiftMax])]);
  const dyflat = b.op1('Reshape', [b.op1('Pad', [b.op1('Transpose', [v.dy], swap), i64(b, [0, 0, 0, 0, 0, 0, 2, 2])]), i64(b, [M, -1])]);
  const L = 64 * Hp * Wp;
  const parts: string[] = [];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      const s0 = i * Wp + j;
      const tap = b.op1('Slice', [xext, i64(b, [s0]), i64(b, [s0 + L]), i64(b, [1])]);
      parts.push(b.op1('Unsqueeze', [b.op1('Gemm', [dyflat, tap], { transB: 1 }), i64(b, [2])]));
    }
  }
  return b.op1('Reshape', [b.op1('Concat', parts, { axis: 2 }), i64(b, [M, C, 3, 3])]);
};

/** The current im2col, run on `chunks` slices of the batch in turn so that each chunk's columns stay in cache. */
const dwChunked = (C: number, M: number, [H, W]: number[], chunks: number): Build => (b, v) => {
  const xs = b.op('Split', [v.x, i64(b, new Array<number>(chunks).fill(64 / chunks))], { axis: 0 }, { outputs: chunks });
  const dys = b.op('Split', [v.dy, i64(b, new Array<number>(chunks).fill(64 / chunks))], { axis: 0 }, { outputs: chunks });
  const parts = xs.map((x, c) => {
    const xp = b.op1('Pad', [x, i64(b, [0, 0, 1, 1, 0, 0, 1, 1])]);
    const taps: string[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) taps.push(b.op1('Slice', [xp, i64(b, [i, j]), i64(b, [i + H, j + W]), i64(b, [2, 3])]));
    const cols = b.op1('Reshape', [b.op1('Concat', taps, { axis: 2 }), i64(b, [0, C * 9, H * W])]);
    const dYt = b.op1('Transpose', [b.op1('Reshape', [dys[c], i64(b, [0, M, H * W])])], { perm: [0, 2, 1] });
    return b.op1('ReduceSum', [b.op1('MatMul', [cols, dYt]), i64(b, [0]) ], { keepdims: 1 });
  });
  const summed = b.op1('ReduceSum', [b.op1('Concat', parts, { axis: 0 }), i64(b, [0])], { keepdims: 0 });
  return b.op1('Reshape', [b.op1('Transpose', [summed], { perm: [1, 0] }), i64(b, [M, C, 3, 3])]);
};

/** im2col as one Conv of each channel plane with 9 one-hot kernels: [N C, 1, H, W] -> [N C, 9, H, W] = [N, C 9, H W]. */
const unfold = (b: GraphBuilder, x: string, C: number, [H, W]: number[]) => {
  const eye = b.constant(Array.from({ length: 81 }, (_, i) => (Math.floor(i / 9) === i % 9 ? 1 : 0)), 'float32', [9, 1, 3, 3]);
  const planes = b.op1('Reshape', [x, i64(b, [-1, 1, H, W])]);
  return b.op1('Reshape', [b.op1('Conv', [planes, eye], { pads: [1, 1, 1, 1] }), i64(b, [-1, C * 9, H * W])]);
};

const dwUnfoldBatched = (C: number, M: number, [H, W]: number[]): Build => (b, v) => {
  const cols = unfold(b, v.x, C, [H, W]);
  const dYt = b.op1('Transpose', [b.op1('Reshape', [v.dy, i64(b, [0, M, H * W])])], { perm: [0, 2, 1] });
  const summed = b.op1('ReduceSum', [b.op1('MatMul', [cols, dYt]), i64(b, [0])], { keepdims: 0 });
  return b.op1('Reshape', [b.op1('Transpose', [summed], { perm: [1, 0] }), i64(b, [M, C, 3, 3])]);
};

/** One Gemm over [M, N P] x [N P, C 9]: dY and cols with their batch axis moved inward. */
const dwUnfoldGemm = (C: number, M: number, [H, W]: number[]): Build => (b, v) => {
  const cols = unfold(b, v.x, C, [H, W]);
  const colsT = b.op1('Reshape', [b.op1('Transpose', [cols], { perm: [0, 2, 1] }), i64(b, [-1, C * 9])]);
  const dyT = b.op1('Reshape', [b.op1('Transpose', [b.op1('Reshape', [v.dy, i64(b, [0, M, H * W])])], { perm: [1, 0, 2] }), i64(b, [M, -1])]);
  return b.op1('Reshape', [b.op1('MatMul', [dyT, colsT]), i64(b, [M, C, 3, 3])]);
};

const dwSwapped: Build = (b, v) => {
  const swap = { perm: [1, 0, 2, 3] };
  const dwt = b.op1('Conv', [b.op1('Transpose', [v.x], swap), b.op1('Transpose', [v.dy], swap)], { pads: [1, 1, 1, 1] });
  return b.op1('Transpose', [dwt], swap);
};

const dxTranspose: Build = (b, v) => b.op1('ConvTranspose', [v.dy, v.w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
const dxFlipped: Build = (b, v) => {
  const f = b.op1('Slice', [b.op1('Transpose', [v.w], { perm: [1, 0, 2, 3] }), i64(b, [-1, -1]), i64(b, [-4, -4]), i64(b, [2, 3]), i64(b, [-1, -1])]);
  return b.op1('Conv', [v.dy, f], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
};

/**
 * The flipped-kernel Conv on one wide image: the batch laid side by side along W with `gap` zero columns
 * between samples (enough for a 3x3 kernel), so that onnxruntime runs one large GEMM instead of one per sample.
 */
const dxFlippedWide = (gap: number, transpose: boolean): Build => (b, v) => {
  const [N, M, H, W] = b.shape(v.dy) as number[];
  const slot = W + gap;
  const f = b.op1('Slice', [b.op1('Transpose', [v.w], { perm: [1, 0, 2, 3] }), i64(b, [-1, -1]), i64(b, [-4, -4]), i64(b, [2, 3]), i64(b, [-1, -1])]);
  const C = (b.shape(v.w) as number[])[1];
  const padded = b.op1('Pad', [v.dy, i64(b, [0, 0, 0, 0, 0, 0, 0, gap])]);
  const wide = b.op1('Reshape', [b.op1('Transpose', [padded], { perm: [1, 2, 0, 3] }), i64(b, [1, M, H, N * slot])]);
  const out = transpose
    ? b.op1('ConvTranspose', [wide, v.w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })
    : b.op1('Conv', [wide, f], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  const cut = b.op1('Slice', [b.op1('Reshape', [out, i64(b, [C, H, N, slot])]), i64(b, [0]), i64(b, [W]), i64(b, [3])]);
  return b.op1('Transpose', [cut], { perm: [2, 0, 1, 3] });
};

const reluWhere: Build = (b, v) => b.op1('Where', [b.op1('Greater', [v.x, b.constant(0)]), v.dy, b.constant(0)]);
const reluMulCast: Build = (b, v) => b.op1('Mul', [v.dy, castTo(b, b.op1('Greater', [v.x, b.constant(0)]), 'float32')]);

function groups(): Group[] {
  const out: Group[] = [];
  for (const [C, H] of [[16, 28], [32, 14], [32, 28], [64, 14]]) {
    out.push({
      name: `maxpool-grad [64,${C},${H},${H}]`, inputs: { x: [64, C, H, H], dy: [64, C, H / 2, H / 2] },
      variants: {
        'S2D+CumSum+D2S (original rule)': maxGradS2D(2, [H, H]),
        'ArgMax + Resize': maxGradArgMax(2, [H, H]),
        'Transpose + ArgMax(last) + Resize': maxGradArgMaxLast(2, [H, H]),
        'Indices+MaxUnpool': maxGradIndices,
      },
    });
  }
  for (const [C, M, H] of [[1, 16, 28], [16, 32, 14], [1, 32, 28], [32, 32, 28], [32, 64, 14], [64, 64, 14]]) {
    out.push({
      name: `conv-dW k3 [64,${C},${H},${H}] -> ${M}`, inputs: { x: [64, C, H, H], dy: [64, M, H, H] }, tolerance: 2e-3,
      variants: {
        'Pad+Slice+Concat im2col (original)': dwIm2col(C, M, [H, H]),
        'per-tap MatMul, no Concat': dwTapMatMuls(C, M, [H, H]),
        'batch-inward Gemm per tap': dwTapGemms(C, M, [H, H]),
        'flat shifted planes, Gemm per tap': dwFlatShift(C, M, [H, H]),
        'im2col in 4 batch chunks': dwChunked(C, M, [H, H], 4),
        'im2col in 16 batch chunks': dwChunked(C, M, [H, H], 16),
        'unfold Conv + batched MatMul': dwUnfoldBatched(C, M, [H, H]),
        'unfold Conv + one Gemm': dwUnfoldGemm(C, M, [H, H]),
        'swapped Conv': dwSwapped,
      },
    });
    if (C > 1) {
      out.push({
        name: `conv-dX k3 [64,${M},${H},${H}] -> ${C}`, inputs: { dy: [64, M, H, H], w: [M, C, 3, 3] }, tolerance: 1e-3,
        variants: { 'ConvTranspose (original)': dxTranspose, 'Conv with flipped W': dxFlipped, 'flipped Conv, batch along W (gap 1)': dxFlippedWide(1, false), 'flipped Conv, batch along W (gap 2)': dxFlippedWide(2, false), 'ConvTranspose, batch along W': dxFlippedWide(1, true) },
      });
    }
  }
  out.push({ name: 'relu-grad [64,32,28,28]', inputs: { x: [64, 32, 28, 28], dy: [64, 32, 28, 28] }, variants: { 'Where(Greater) (rule)': reluWhere, 'Mul(Cast(Greater))': reluMulCast } });
  return out;
}

function fill(dims: number[], seed: number): Float32Array {
  const a = new Float32Array(numel(dims));
  let s = seed;
  // Quantised values, so that pooling windows hold exact ties as Fashion-MNIST's background does.
  for (let i = 0; i < a.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = Math.round(((s >>> 8) / 2 ** 24) * 8 - 4) / 4;
  }
  return a;
}

async function main() {
  const { values, positionals } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: { rounds: { type: 'string', default: '40' }, threads: { type: 'string' }, spinning: { type: 'string', default: 'off' } } });
  const rounds = Number(values.rounds);
  const selected = groups().filter((g) => !positionals.length || positionals.some((p) => g.name.startsWith(p)));
  for (const g of selected) {
    const feeds: Record<string, ort.Tensor> = {};
    Object.entries(g.inputs).forEach(([k, d], i) => (feeds[k] = new ort.Tensor('float32', fill(d, 17 + i), d)));
    const sessions: [string, ort.InferenceSession][] = [];
    for (const [label, build] of Object.entries(g.variants)) {
      const b = new GraphBuilder(label.replace(/\W/g, '_'));
      const v: Record<string, string> = {};
      for (const [k, d] of Object.entries(g.inputs)) v[k] = b.input(k, 'float32', d);
      b.output(b.op1('Identity', [build(b, v)], {}, { outputs: ['out'] }));
      sessions.push([label, await ort.InferenceSession.create(encodeModel(b.graph), {
        executionProviders: ['cpu'], graphOptimizationLevel: 'all', interOpNumThreads: 1,
        ...(values.threads ? { intraOpNumThreads: Number(values.threads) } : {}),
        extra: { session: { intra_op: { allow_spinning: values.spinning === 'on' ? '1' : '0' } } },
      })]);
    }
    const times = sessions.map(() => [] as number[]);
    let reference: Float32Array | null = null;
    for (let r = 0; r < rounds + 3; r++) {
      for (let i = 0; i < sessions.length; i++) {
        const t0 = performance.now();
        const out = (await sessions[i][1].run(feeds)).out.data as Float32Array;
        if (r >= 3) times[i].push(performance.now() - t0);
        if (r === 0) {
          if (!reference) reference = out;
          const tol = g.tolerance ?? 0;
          const scale = reference.reduce((m, x) => Math.max(m, Math.abs(x)), 0) || 1;
          const worst = out.reduce((m, x, j) => Math.max(m, Math.abs(x - reference![j])), 0);
          if (worst > tol * scale) throw new Error(`${g.name} / ${sessions[i][0]}: differs from the original rule by ${worst} (scale ${scale})`);
        }
      }
    }
    console.log(g.name);
    sessions.forEach(([label], i) => {
      const t = [...times[i]].sort((a, b) => a - b);
      console.log(`  ${label.padEnd(36)} median ${t[Math.floor(t.length / 2)].toFixed(3).padStart(7)} ms   p25 ${t[Math.floor(t.length / 4)].toFixed(3)}`);
    });
    await Promise.all(sessions.map(([, s]) => s.release()));
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
