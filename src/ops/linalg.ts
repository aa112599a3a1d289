import { attrFloat, attrInt, float, type AttrInput, type Dim } from '../graph/ir.js';
import { broadcastShape, unbroadcast } from './shapes.js';
import type { Emitter, RuleTable } from './types.js';

function scaled(b: Emitter, x: string, k: number): string {
  return k === 1 ? x : b.op1('Mul', [x, b.constant(k, b.dtype(x))]);
}

export const linalg: RuleTable = {
  // Y = alpha op(A) op(B) + beta C, op = transpose where transA/transB.
  //   transA=0, transB=0: dA = dY B^T,    dB = A^T dY
  //   transA=0, transB=1: dA = dY B,      dB = dY^T A
  //   transA=1, transB=0: dA = B dY^T,    dB = A dY
  //   transA=1, transB=1: dA = B^T dY^T,  dB = dY^T A^T
  //   dC = beta dY summed over broadcast axes
  Gemm: {
    infer: (ins, n) => {
      const [a, bb] = [ins[0]!.shape, ins[1]!.shape];
      const rows = a ? a[attrInt(n, 'transA', 0) ? 1 : 0] : undefined;
      const cols = bb ? bb[attrInt(n, 'transB', 0) ? 0 : 1] : undefined;
      return [{ dtype: ins[0]!.dtype, shape: rows !== undefined && cols !== undefined ? [rows, cols] : undefined }];
    },
    grad: ({ b, needs }, n, [dY]) => {
      const [A, B, C] = n.inputs;
      const tA = attrInt(n, 'transA', 0);
      const tB = attrInt(n, 'transB', 0);
      const alpha = attrFloat(n, 'alpha', 1);
      const beta = attrFloat(n, 'beta', 1);
      const al: Record<string, AttrInput> = alpha === 1 ? {} : { alpha: float(alpha) };
      let dA: string | null = null;
      let dB: string | null = null;
      if (needs[0]) {
        dA = tA === 0
          ? b.op1('Gemm', [dY!, B], { transB: tB ? 0 : 1, ...al })
          : b.op1('Gemm', [B, dY!], { transA: tB, transB: 1, ...al });
      }
      if (needs[1]) {
        dB = tB === 0
          ? b.op1('Gemm', [A, dY!], { transA: tA ? 0 : 1, ...al })
          : b.op1('Gemm', [dY!, A], { transA: 1, transB: tA, ...al });
      }
      const dC = C && needs[2] ? unbroadcast(b, scaled(b, dY!, beta), C) : null;
      return C ? [dA, dB, dC] : [dA, dB];
    },
  },
  // Y = A @ B (rank >= 2, batch axes broadcast)  =>  dA = dY @ B^T, dB = A^T @ dY
  MatMul: {
    infer: (ins) => {
      const [a, bb] = [ins[0]!.shape, ins[1]!.shape];
      if (!a || !bb || a.length < 2 || bb.length < 2) return [{ dtype: ins[0]!.dtype }];
      const batch = broadcastShape(a.slice(0, -2), bb.slice(0, -2))!;
      return [{ dtype: ins[0]!.dtype, shape: [...batch, a[a.length - 2], bb[bb.length - 1]] as Dim[] }];
    },
    grad: ({ b, needs }, n, [dY]) => {
      const [A, B] = n.inputs;
      const tr = (x: string) => {
        const r = b.shape(x).length;
        const perm = [...Array(r).keys()];
        [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
        return b.op1('Transpose', [x], { perm });
      };
      if (b.shape(A).length < 2 || b.shape(B).length < 2) throw new Error('MatMul gradient: 1-D operands are not supported');
      return [
        needs[0] ? unbroadcast(b, b.op1('MatMul', [dY!, tr(B)]), A) : null,
        needs[1] ? unbroadcast(b, b.op1('MatMul', [tr(A), dY!]), B) : null,
      ];
    },
  },
};
