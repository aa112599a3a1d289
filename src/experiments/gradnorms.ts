/** Per-layer gradient norms of a trained run: training.onnx evaluated once on one batch. */
import ort from 'onnxruntime-node';
import { loadCheckpoint } from '../artifacts/checkpoint.js';
import { gatherBatch } from '../data/batches.js';
import { prepareData } from '../data/prepare.js';
import * as names from '../graph/names.js';
import { numel } from '../graph/tensor.js';
import { datasetOf } from '../models/registry.js';
import { encodeModel } from '../onnx/model.js';
import { compileGraphSet } from '../program/compile.js';
import { runFile } from '../train/run_dir.js';
import { runModelDef } from '../train/run.js';
import { createSession } from '../train/session.js';
import { toOrt } from '../train/sessions.js';
import type { TrainSettings } from '../train/settings.js';

export interface LayerNorm {
  /** Module name, e.g. 'layers.0' or 'features.3'. */
  layer: string;
  /** sqrt of the summed squares of the gradients of the layer's parameters (weight and bias). */
  norm: number;
}

/**
 * The L2 norm of the loss gradient for each layer, at the run's final weights (last.safetensors), on
 * the first `batch` training images of the run's split (dropout off: all keep-masks are 1).
 */
export async function gradientNorms(runDir: string, s: TrainSettings, batch = 64): Promise<LayerNorm[]> {
  const set = compileGraphSet({ def: runModelDef(s), optimizer: s.optimizer });
  const sig = set.signature;
  const { weights } = await loadCheckpoint(runFile(runDir, 'last'));
  const data = await prepareData(datasetOf(s.model), { seed: s.seed, valSize: s.valSize, dataDir: s.dataDir, download: s.download, classes: s.classes, limit: s.limit });
  const b = gatherBatch(data.all, data.train.indices.subarray(0, batch));
  const session = await createSession(encodeModel(set.graph('training')), { device: s.device, threads: s.threads });
  try {
    const feeds: Record<string, ort.Tensor> = {
      [names.INPUT]: new ort.Tensor('float32', b.images, [b.n, data.all.channels, data.all.height, data.all.width]),
      [names.LABELS]: new ort.Tensor('int64', b.labels, [b.n]),
    };
    for (const p of sig.all) feeds[p.name] = toOrt(weights.get(p.name)!);
    for (const n of sig.noise) {
      const dims = [b.n, ...(n.shape.slice(1) as number[])];
      feeds[n.name] = new ort.Tensor('float32', new Float32Array(numel(dims)).fill(1), dims);
    }
    const out = await session.run(feeds, sig.trainable.map((p) => names.grad(p.name)));
    const sums = new Map<string, number>();
    for (const p of sig.trainable) {
      const layer = p.name.slice(0, p.name.lastIndexOf('.'));
      let sq = 0;
      for (const v of out[names.grad(p.name)].data as Float32Array) sq += v * v;
      sums.set(layer, (sums.get(layer) ?? 0) + sq);
    }
    return [...sums].map(([layer, sq]) => ({ layer, norm: Math.sqrt(sq) }));
  } finally {
    await session.release();
  }
}
