import { Rng } from '../data/rng.js';
import { allocate, numel, type Tensor } from '../graph/tensor.js';
import type { ParamSpec } from '../nn/context.js';

/**
 * Initial parameters and buffers, PyTorch's defaults (kaiming-uniform with a = sqrt(5) for weights, which
 * is U(+-1/sqrt(fan_in)), and the same bound for biases), drawn in module order from a seeded stream;
 * given values (an imported model's initializers) as they are.
 */
export function initialWeights(specs: ParamSpec[], seed: number): Map<string, Tensor> {
  const rng = Rng.fromSeed(seed, 'init');
  const out = new Map<string, Tensor>();
  for (const p of specs) {
    if (p.init.kind === 'tensor') {
      const t = p.init.value;
      out.set(p.name, { dtype: t.dtype, dims: [...t.dims], data: t.data.slice() });
      continue;
    }
    const data = allocate(p.dtype, numel(p.shape));
    if (p.init.kind === 'uniform') {
      const { bound } = p.init;
      const d = data as Float32Array;
      for (let i = 0; i < d.length; i++) d[i] = (rng.nextFloat() * 2 - 1) * bound;
    } else if (p.dtype === 'int64') {
      (data as BigInt64Array).fill(BigInt(p.init.value));
    } else {
      (data as Float32Array).fill(p.init.value);
    }
    out.set(p.name, { dtype: p.dtype, dims: [...p.shape], data });
  }
  return out;
}
