/**
 * `node dist/scripts/bench_lowering.js <model> [--rounds 30] [--threads 1]`
 *
 * One training step (train_step, batch 64) as the portable graph, and lowered for the CPU with and without
 * blocked pooling (src/program/lowering/nchwc.ts), each its own session, runs interleaved; median CPU ms
 * per step (user + system, all threads: the figure that moves least while others load the machine) and
 * wall ms.
 */
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import type { Graph } from '../src/graph/ir.js';
import { buildModelDef, isModelName } from '../src/models/registry.js';
import { encodeModel } from '../src/onnx/model.js';
import { defaultOptimizerSettings } from '../src/optim/index.js';
import { compileGraphSet } from '../src/program/compile.js';
import { nchwcBlockSize } from '../src/program/lowering/block_size.js';
import { lowerToNchwc } from '../src/program/lowering/nchwc.js';
import { trainStepFeeds } from './step_feeds.js';

const BATCH = 64;

async function main() {
  const { values, positionals } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: { rounds: { type: 'string', default: '30' }, threads: { type: 'string', default: '1' } } });
  const model = positionals[0] ?? 'complex-cnn';
  if (!isModelName(model)) throw new Error(`unknown model '${model}'`);
  const block = nchwcBlockSize();
  if (!block) throw new Error('this machine has no NCHWc kernels (or ONNXTRAIN_NCHWC=off): nothing to compare');
  const set = compileGraphSet({ def: buildModelDef(model), optimizer: defaultOptimizerSettings('adam') });
  const portable = set.graph('train_step');
  const variants: [string, Graph][] = [
    ['portable', portable],
    ['nchwc, pooling NCHW', lowerToNchwc(portable, block, { blockedPooling: false })],
    ['nchwc, pooling blocked (train)', lowerToNchwc(portable, block)],
  ];
  const feeds = trainStepFeeds(set, portable, BATCH);
  const sessions = await Promise.all(variants.map(([, g]) => ort.InferenceSession.create(encodeModel(g), { intraOpNumThreads: Number(values.threads), logSeverityLevel: 3 })));
  for (const s of sessions) await s.run(feeds);
  const cpu = variants.map((): number[] => []);
  const wall = variants.map((): number[] => []);
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const [k, s] of sessions.entries()) {
      const [t0, c0] = [performance.now(), process.cpuUsage()];
      await s.run(feeds);
      const c = process.cpuUsage(c0);
      cpu[k].push((c.user + c.system) / 1000);
      wall[k].push(performance.now() - t0);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`${model}, train_step, ${values.threads} thread(s), block ${block}, ${values.rounds} interleaved rounds: median CPU ms / wall ms per step`);
  variants.forEach(([name], k) => console.log(`  ${name}: ${median(cpu[k]).toFixed(2)} / ${median(wall[k]).toFixed(2)}`));
  await Promise.all(sessions.map((s) => s.release()));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
