/** Time onnxtrain's training through the real TrainSessions (train_loop graph, chunks of steps), as `train` runs it. */
import ort from 'onnxruntime-node';
import { compileGraphSet } from '../src/program/compile.js';
import { zeroState } from '../src/program/signature.js';
import { Rng } from '../src/data/rng.js';
import type { Tensor } from '../src/graph/tensor.js';
import type { ModelDef } from '../src/models/registry.js';
import { defaultOptimizerSettings } from '../src/optim/index.js';
import { TrainSessions } from '../src/train/sessions.js';
import type { BenchData } from './bench_data.js';

/** The graphs a CPU session runs (NCHWc-lowered where the machine allows), or the portable ones. */
export type Graphs = 'cpu' | 'portable';

export interface OursSettings {
  def: ModelDef;
  data: BenchData;
  weights: Map<string, Tensor>;
  /** [steps, batch] sample indices into data.train. */
  indices: BigInt64Array;
  batch: number;
  /** Intra-op threads; undefined = onnxruntime's default (one per core). */
  threads?: number;
  /** session.intra_op.allow_spinning. */
  spinning: boolean;
  /** Steps per Loop run, as the trainer's default chunk. Default 100. */
  chunkSteps?: number;
  /** Timed repetitions from the same initial state. */
  repeats: number;
  /** Default 'cpu'. */
  graphs?: Graphs;
}

export interface Timing {
  /** Wall seconds of each repetition. */
  seconds: number[];
  /**
   * CPU seconds (user + system, all threads) of each repetition: on a machine that others load, this
   * moves far less than wall time, so A/B comparisons use it.
   */
  cpuSeconds: number[];
  steps: number;
  /** Mean training loss over the timed steps (same weights and batches give the same figure in PyTorch). */
  meanLoss: number;
}

export async function timeOurs(s: OursSettings): Promise<Timing> {
  const set = compileGraphSet({ def: s.def, optimizer: defaultOptimizerSettings('adam') });
  const sig = set.signature;
  // The portable graphs through the same sessions: ONNXTRAIN_NCHWC=off while they compile (block_size.ts).
  const saved = process.env.ONNXTRAIN_NCHWC;
  if (s.graphs === 'portable') process.env.ONNXTRAIN_NCHWC = 'off';
  const runner = await TrainSessions.create(set, { device: 'cpu', threads: s.threads, spinning: s.spinning, graphKind: 'loop' })
    .finally(() => (saved === undefined ? delete process.env.ONNXTRAIN_NCHWC : (process.env.ONNXTRAIN_NCHWC = saved)));
  const { train } = s.data;
  const data = {
    images: new ort.Tensor('float32', train.images, [train.n, train.channels, train.height, train.width]),
    labels: new ort.Tensor('int64', BigInt64Array.from(train.labels, (v) => BigInt(v)), [train.n]),
  };
  const steps = s.indices.length / s.batch;
  const chunk = s.chunkSteps ?? 100;
  const runAll = async () => {
    runner.load(s.weights, zeroState(sig), 0);
    const noise = Rng.fromSeed(0, 'dropout');
    let lossSum = 0;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let k = 0; k < steps; k += chunk) {
      const rows = Math.min(chunk, steps - k);
      const r = await runner.trainLoop({ data, indices: s.indices.subarray(k * s.batch, (k + rows) * s.batch), rows, batch: s.batch, lr: 1e-3, rng: noise });
      for (const l of r.losses) lossSum += l;
    }
    const c = process.cpuUsage(c0);
    return { seconds: (performance.now() - t0) / 1000, cpuSeconds: (c.user + c.system) / 1e6, meanLoss: lossSum / steps };
  };
  // Warm-up: the first runs allocate onnxruntime's arenas and plan the Loop body.
  runner.load(s.weights, zeroState(sig), 0);
  await runner.trainLoop({ data, indices: s.indices.subarray(0, 2 * s.batch), rows: 2, batch: s.batch, lr: 1e-3, rng: Rng.fromSeed(0, 'dropout') });
  const seconds: number[] = [];
  const cpuSeconds: number[] = [];
  let meanLoss = NaN;
  for (let i = 0; i < s.repeats; i++) {
    const r = await runAll();
    seconds.push(r.seconds);
    cpuSeconds.push(r.cpuSeconds);
    meanLoss = r.meanLoss;
  }
  await runner.release();
  return { seconds, cpuSeconds, steps, meanLoss };
}
