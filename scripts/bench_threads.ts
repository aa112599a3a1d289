/**
 * `node dist/scripts/bench_threads.js [model] [--rounds 15] [--graphs cpu|portable]`
 *
 * onnxruntime's 2-thread settings on one training step (train_step, batch 64, the graphs a CPU session
 * runs): the intra-op worker pinned to a core (session.intra_op_thread_affinities, 1-based logical
 * processors, one entry per thread but the caller's) or not, with spinning off or on. Every variant has its
 * own session; their runs are interleaved (one of each in turn) and the median wall and CPU ms per step
 * printed, with the slowest and fastest quarter to show a bimodal spell.
 */
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { buildModelDef, isModelName } from '../src/models/registry.js';
import { encodeModel } from '../src/onnx/model.js';
import { defaultOptimizerSettings } from '../src/optim/index.js';
import { compileGraphSet } from '../src/program/compile.js';
import { trainStepFeeds } from './step_feeds.js';

const BATCH = 64;

interface Variant { name: string; affinity?: string; spinning: boolean }

const VARIANTS: Variant[] = [
  { name: 'not pinned, spinning off', spinning: false },
  { name: 'not pinned, spinning on', spinning: true },
  { name: "worker on cpu 1 ('1'), spinning off", affinity: '1', spinning: false },
  { name: "worker on cpu 2 ('2'), spinning off", affinity: '2', spinning: false },
  { name: "worker on cpu 2 ('2'), spinning on", affinity: '2', spinning: true },
];

async function main() {
  const { values, positionals } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: { rounds: { type: 'string', default: '15' }, graphs: { type: 'string', default: 'cpu' } } });
  const model = positionals[0] ?? 'basic-cnn';
  if (!isModelName(model)) throw new Error(`unknown model '${model}'`);
  const set = compileGraphSet({ def: buildModelDef(model), optimizer: defaultOptimizerSettings('adam') });
  const graph = values.graphs === 'portable' ? set.graph('train_step') : set.graphFor('train_step', 'cpu');
  const bytes = encodeModel(graph);
  const feeds = trainStepFeeds(set, graph, BATCH);
  const sessions = await Promise.all(VARIANTS.map((v) => ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 2, logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: v.spinning ? '1' : '0' }, ...(v.affinity ? { intra_op_thread_affinities: v.affinity } : {}) } },
  })));
  for (const s of sessions) await s.run(feeds);
  const wall = VARIANTS.map((): number[] => []);
  const cpu = VARIANTS.map((): number[] => []);
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const [k, s] of sessions.entries()) {
      const [t0, c0] = [performance.now(), process.cpuUsage()];
      await s.run(feeds);
      const c = process.cpuUsage(c0);
      wall[k].push(performance.now() - t0);
      cpu[k].push((c.user + c.system) / 1000);
    }
  }
  const q = (xs: number[], f: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * f)];
  console.log(`${model}, train_step (${values.graphs} graphs), 2 intra-op threads, ${values.rounds} interleaved rounds: ms/step`);
  console.log('| variant | wall median | wall p25 - p75 | CPU median |');
  console.log('|---|---|---|---|');
  VARIANTS.forEach((v, k) => console.log(`| ${v.name} | ${q(wall[k], 0.5).toFixed(1)} | ${q(wall[k], 0.25).toFixed(1)} - ${q(wall[k], 0.75).toFixed(1)} | ${q(cpu[k], 0.5).toFixed(1)} |`));
  await Promise.all(sessions.map((s) => s.release()));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
