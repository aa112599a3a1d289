/**
 * `node dist/scripts/bench_teach.js [--steps 100] [--rounds 3]`
 *
 * Fine-tuning in the trainable page (headless Chromium, wasm, the page's worker) against the same
 * train_step graph and batches in onnxruntime-node (1 intra-op thread, as the page's wasm runs), for
 * basic-cnn's classifier head and for every layer, batch 32. Page and Node runs are interleaved, round
 * by round. Before and after, the memory the page holds: the page's and the worker's JS heaps and
 * ArrayBuffer backing stores (CDP Runtime.getHeapUsage; the backing stores hold the wasm memories and
 * the runtime's wasm binary), the worker's wasm memory alone, and the renderer processes' resident sets
 * (/proc; all of Chromium's renderer memory, code included).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import type { CDPSession, Page } from 'playwright-core';
import { launchChromium } from '../test/helpers/browser.js';
import { exportWeb } from '../src/web/export.js';
import { batchRows, batchTensors, replayInputs } from '../src/web/page/teach_batches.js';
import { parseTeachConfig } from '../src/web/page/teach_config.js';
import { applyStep, initialState, stepFeeds } from '../src/web/page/teach_state.js';
import { serve } from '../src/web/serve.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Resident set (kB) of every renderer process below this one. */
function rendererRssKb(): number[] {
  const parent = new Map<number, number>();
  const cmd = new Map<number, string>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      cmd.set(Number(d), readFileSync(`/proc/${d}/cmdline`, 'utf8'));
    } catch {
      // gone meanwhile
    }
  }
  const below = (pid: number): boolean => pid === process.pid || (parent.has(pid) && pid > 1 && below(parent.get(pid)!));
  return [...cmd].filter(([pid, c]) => c.includes('--type=renderer') && below(pid)).map(([pid]) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)![1]));
}

/** JS heap of the page's dedicated workers, through CDP (Target auto-attach, messages relayed by the page's session). */
interface HeapUsage {
  usedSize: number;
  totalSize: number;
  /** ArrayBuffer backing stores, wasm memory among them. */
  backingStorageSize?: number;
}

const workerSessions = new WeakMap<CDPSession, string[]>();
let messageId = 1000;

async function workerHeaps(cdp: CDPSession): Promise<HeapUsage[]> {
  if (!workerSessions.has(cdp)) {
    const found: string[] = [];
    workerSessions.set(cdp, found);
    cdp.on('Target.attachedToTarget', (e) => {
      if (e.targetInfo.type === 'worker') found.push(e.sessionId);
    });
    await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
    await new Promise((r) => setTimeout(r, 300));
  }
  return Promise.all(workerSessions.get(cdp)!.map((sessionId) => new Promise<HeapUsage>((resolve) => {
    const id = messageId++;
    const onMessage = (e: { sessionId: string; message: string }) => {
      const m = JSON.parse(e.message) as { id?: number; result?: HeapUsage };
      if (e.sessionId === sessionId && m.id === id) {
        cdp.off('Target.receivedMessageFromTarget', onMessage);
        resolve(m.result!);
      }
    };
    cdp.on('Target.receivedMessageFromTarget', onMessage);
    void cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method: 'Runtime.getHeapUsage' }) });
  })));
}

async function pageRun(p: Page, steps: number): Promise<number> {
  await p.click('#teach-reset');
  await p.fill('#teach-steps', String(steps));
  const t0 = Date.now();
  await p.click('#teach-train');
  await p.waitForFunction(() => window.__teach?.status === 'ready' && window.__teach.ended === 'finished', null, { timeout: 600_000, polling: 20 });
  const ms = Date.now() - t0;
  await p.evaluate(() => (window.__teach!.ended = undefined));
  return ms;
}

async function nodeRun(web: string, examples: { pixels: number[]; label: number }[], steps: number): Promise<number> {
  const teach = parseTeachConfig(JSON.parse(await readFile(path.join(web, 'train/teach.json'), 'utf8')), 'teach.json');
  const session = await ort.InferenceSession.create(path.join(web, teach.graph), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const state = initialState(teach, new Uint8Array(await readFile(path.join(web, 'model.onnx'))));
  const cfg = JSON.parse(await readFile(path.join(web, 'config.json'), 'utf8')) as { inputShape: number[]; normalization: { mean: number[]; std: number[] } };
  const replay = replayInputs(new Uint8Array(await readFile(path.join(web, teach.replay.file))), teach.replay.count, { inputShape: cfg.inputShape, ...cfg.normalization });
  const ex = examples.map((e) => ({ pixels: Float32Array.from(e.pixels), label: e.label }));
  const t0 = Date.now();
  for (let s = 0; s < steps; s++) {
    const batch = batchTensors(batchRows(ex.length, teach.replay.count, teach.batchSize, teach.seed, state.step), ex, replay);
    applyStep(state, await session.run(stepFeeds(teach, state, batch, teach.learningRate, (dtype, data, dims) => new ort.Tensor(dtype, data, dims))));
  }
  const ms = Date.now() - t0;
  await session.release();
  return ms;
}

async function main() {
  const { values } = parseArgs({ args: process.argv.slice(2), options: { steps: { type: 'string', default: '100' }, rounds: { type: 'string', default: '3' } } });
  const steps = Number(values.steps);
  const rounds = Number(values.rounds);
  const root = await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-bench-teach-'));
  const browser = await launchChromium();
  try {
    const run = path.join(root, 'run');
    const r = spawnSync(process.execPath, ['dist/src/cli/bin.js', 'train', 'basic-cnn', '--epochs', '1', '--limit', '600', '--out', run], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(r.stderr);
    console.log(`basic-cnn, batch 32, ${steps} steps, ${rounds} rounds, page (wasm, 1 thread) and Node (1 intra-op thread) interleaved; load average ${os.loadavg().map((v) => v.toFixed(1)).join(' ')}`);
    for (const variant of [{ name: 'classifier head', trainAll: false }, { name: 'every layer', trainAll: true }]) {
      const web = (await exportWeb({ run, out: path.join(root, `web-${variant.trainAll}`), trainable: { trainAll: variant.trainAll }, compress: false })).out;
      const server = await serve({ dir: web, port: 0 });
      const p = await browser.newPage();
      await p.goto(server.url);
      await p.waitForFunction(() => window.__teach?.status === 'ready', null, { timeout: 120_000 });
      const cdp = await p.context().newCDPSession(p);
      const heap = async () => (await cdp.send('Runtime.getHeapUsage')) as HeapUsage;
      const memory = async (when: string) => {
        const h = await heap();
        const wasm = await p.evaluate(() => window.__teachWasmBytes!());
        const rss = rendererRssKb();
        const workers = await workerHeaps(cdp);
        const mib = (b: number) => (b / 2 ** 20).toFixed(1);
        const usage = (u: HeapUsage) => `${mib(u.usedSize)} MiB used (${mib(u.totalSize)} allocated) + ${mib(u.backingStorageSize ?? NaN)} MiB array buffers`;
        console.log(`  memory ${when}: page JS heap ${usage(h)}, worker JS heap ${workers.map(usage).join(', ') || 'not found'}, worker wasm memory ${(wasm / 2 ** 20).toFixed(1)} MiB, renderer RSS ${rss.map((kb) => `${(kb / 1024).toFixed(0)} MiB`).join(' + ')}`);
      };
      await p.click('#samples button');
      await p.waitForFunction(() => window.__lastPrediction !== undefined, null, { timeout: 20_000 });
      await p.click('#teach-add');
      await memory('before training');
      const examples = await p.evaluate(() => window.__teach!.examples);
      const page: number[] = [];
      const node: number[] = [];
      for (let i = 0; i < rounds; i++) {
        page.push(await pageRun(p, steps));
        node.push(await nodeRun(web, examples, steps));
      }
      const pm = median(page);
      const nm = median(node);
      console.log(`${variant.name}: page ${(pm / 1000).toFixed(2)} s per ${steps} steps (${(pm / steps).toFixed(1)} ms/step; runs ${page.join(', ')} ms), Node ${(nm / 1000).toFixed(2)} s (${(nm / steps).toFixed(1)} ms/step; runs ${node.join(', ')} ms): page/Node ${(pm / nm).toFixed(2)}x`);
      await memory(`after ${rounds * steps} steps`);
      await p.close();
      await server.close();
    }
  } finally {
    await browser.close();
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
