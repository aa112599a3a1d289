/** Feeds for one train_step run of a graph set: a fixed batch, the initial weights, zero optimizer state. */
import ort from 'onnxruntime-node';
import * as names from '../src/graph/names.js';
import type { Graph } from '../src/graph/ir.js';
import { initialWeights } from '../src/models/init.js';
import type { GraphSet } from '../src/program/compile.js';
import { stateSpecs } from '../src/program/signature.js';

export function trainStepFeeds(set: GraphSet, graph: Graph, batch: number): Record<string, ort.Tensor> {
  const [C, H, W] = set.settings.def.dataset.inputShape;
  const weights = initialWeights(set.signature.all, 0);
  const feeds: Record<string, ort.Tensor> = {
    [names.INPUT]: new ort.Tensor('float32', Float32Array.from({ length: batch * C * H * W }, (_, i) => Math.sin(i * 0.37)), [batch, C, H, W]),
    [names.LABELS]: new ort.Tensor('int64', BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % 10)), [batch]),
    [names.LEARNING_RATE]: new ort.Tensor('float32', Float32Array.of(1e-3), []),
    [names.STEP]: new ort.Tensor('int64', BigInt64Array.of(0n), []),
  };
  for (const p of set.signature.all) {
    const t = weights.get(p.name)!;
    feeds[p.name] = new ort.Tensor('float32', t.data as Float32Array, t.dims);
  }
  for (const st of stateSpecs(set.signature)) feeds[st.name] = new ort.Tensor('float32', new Float32Array(weights.get(st.param.name)!.data.length), st.param.shape as number[]);
  const wanted = new Set(graph.inputs.map((i) => i.name));
  for (const k of Object.keys(feeds)) if (!wanted.has(k)) delete feeds[k];
  return feeds;
}
