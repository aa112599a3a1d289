/**
 * `node dist/scripts/bench_profile.js <model> [--steps 30] [--threads N] [--top 25] [--graph loop|step] [--opt all|extended|basic|disabled] [--spinning off|on] [--graphs cpu|portable]`
 *
 * Runs the train_loop (or train_step) graph of a seed model under onnxruntime's profiler and prints the
 * time per op type and the slowest nodes (per step, summed over the body's nodes), to find what to
 * make faster.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { compileGraphSet } from '../src/program/compile.js';
import { zeroState } from '../src/program/signature.js';
import * as N from '../src/graph/names.js';
import { initialWeights } from '../src/models/init.js';
import { buildModelDef, isModelName } from '../src/models/registry.js';
import { encodeModel } from '../src/onnx/model.js';
import { defaultOptimizerSettings } from '../src/optim/index.js';
import { toOrt } from '../src/train/sessions.js';
import { benchData, epochBatches } from './bench_data.js';

interface Event { cat: string; name: string; dur: number; args?: { op_name?: string } }

async function main() {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2), allowPositionals: true,
    options: { steps: { type: 'string', default: '30' }, threads: { type: 'string' }, top: { type: 'string', default: '25' }, graph: { type: 'string', default: 'loop' }, opt: { type: 'string', default: 'all' }, spinning: { type: 'string', default: 'off' }, graphs: { type: 'string', default: 'cpu' } },
  });
  const model = positionals[0];
  if (!model || !isModelName(model)) throw new Error(`usage: bench_profile.js <model> [--steps N] [--threads N] [--graph loop|step]; got '${model ?? ''}'`);
  const steps = Number(values.steps);
  const def = buildModelDef(model);
  const set = compileGraphSet({ def, optimizer: defaultOptimizerSettings('adam') });
  const sig = set.signature;
  const data = await benchData(def);
  const { indices } = epochBatches(data.train.n, 64, steps + 1);
  const loop = values.graph === 'loop';
  // 'cpu': the graph a CPU session runs (NCHWc-lowered where the machine allows); 'portable': as written to disk.
  const graph = values.graphs === 'portable' ? set.graph(loop ? 'train_loop' : 'train_step') : set.graphFor(loop ? 'train_loop' : 'train_step', 'cpu');
  const prefix = `onnxtrain-profile-${process.pid}-${model}`;
  const session = await ort.InferenceSession.create(encodeModel(graph), {
    executionProviders: ['cpu'], graphOptimizationLevel: values.opt as 'all', executionMode: 'sequential', interOpNumThreads: 1,
    ...(values.threads ? { intraOpNumThreads: Number(values.threads) } : {}),
    extra: { session: { intra_op: { allow_spinning: values.spinning === 'on' ? '1' : '0' } } },
    enableProfiling: true, profileFilePrefix: `/tmp/${prefix}`,
  });
  const state: Record<string, ort.Tensor> = {};
  for (const [k, t] of initialWeights(sig.all, 0)) state[k] = toOrt(t);
  for (const [k, t] of zeroState(sig)) state[k] = toOrt(t);
  const { train } = data;
  const images = new ort.Tensor('float32', train.images, [train.n, train.channels, train.height, train.width]);
  const labels = new ort.Tensor('int64', BigInt64Array.from(train.labels, (v) => BigInt(v)), [train.n]);
  const common = { ...state, [N.LEARNING_RATE]: new ort.Tensor('float32', Float32Array.of(1e-3), []), [N.STEP]: new ort.Tensor('int64', BigInt64Array.of(0n), []) };
  const size = train.channels * train.height * train.width;
  const t0 = performance.now();
  if (loop) {
    await session.run({ ...common, [N.DATA_IMAGES]: images, [N.DATA_LABELS]: labels, [N.BATCH_INDICES]: new ort.Tensor('int64', indices.slice(64 * 1, 64 * (steps + 1)), [steps, 64]) });
  } else {
    for (let s = 0; s < steps; s++) {
      const x = new Float32Array(64 * size);
      const y = new BigInt64Array(64);
      for (let k = 0; k < 64; k++) {
        const i = Number(indices[64 * s + k]);
        x.set(train.images.subarray(i * size, (i + 1) * size), k * size);
        y[k] = BigInt(train.labels[i]);
      }
      await session.run({ ...common, [N.INPUT]: new ort.Tensor('float32', x, [64, train.channels, train.height, train.width]), [N.LABELS]: new ort.Tensor('int64', y, [64]) });
    }
  }
  const wall = performance.now() - t0;
  session.endProfiling();
  await session.release();
  const found = (await readdir('/tmp')).find((f) => f.startsWith(prefix) && f.endsWith('.json'));
  if (!found) throw new Error(`onnxruntime wrote no profile /tmp/${prefix}*.json`);
  const file = `/tmp/${found}`;
  const events = JSON.parse(await readFile(file, 'utf8')) as Event[];
  await rm(file);
  const nodes = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  const byOp = new Map<string, number>();
  const byNode = new Map<string, { op: string; us: number }>();
  for (const e of nodes) {
    const op = e.args?.op_name ?? '?';
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
    const name = e.name.replace(/_kernel_time$/, '');
    const cur = byNode.get(name) ?? { op, us: 0 };
    cur.us += e.dur;
    byNode.set(name, cur);
  }
  const total = [...byOp.entries()].filter(([op]) => op !== 'Loop').reduce((a, [, v]) => a + v, 0);
  console.log(`${model} ${values.graph}: ${steps} steps, ${(wall / steps).toFixed(2)} ms/step wall; kernels (excluding Loop) ${(total / 1000 / steps).toFixed(2)} ms/step`);
  console.log('op type            ms/step   share');
  for (const [op, us] of [...byOp.entries()].filter(([op]) => op !== 'Loop').sort((a, b) => b[1] - a[1])) {
    console.log(`${op.padEnd(18)} ${(us / 1000 / steps).toFixed(3).padStart(7)}  ${((100 * us) / total).toFixed(1).padStart(5)}%`);
  }
  console.log('\nslowest nodes      ms/step');
  for (const [name, { op, us }] of [...byNode.entries()].filter(([, v]) => v.op !== 'Loop').sort((a, b) => b[1].us - a[1].us).slice(0, Number(values.top))) {
    console.log(`${(us / 1000 / steps).toFixed(3).padStart(7)}  ${op.padEnd(16)} ${name}`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
