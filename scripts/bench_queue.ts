/**
 * `node dist/scripts/bench_queue.js [experiment] [--limit 6000] [--epochs 2] [--rounds 2] [--workers 1,2]`
 *
 * An experiment on the BullMQ queue with 1 worker and with 2 (each `--threads 1`), on a redis-server of its
 * own (loopback, a temporary folder, nothing saved): the coordinator's wall time, each worker count in turn
 * for `rounds` rounds, every round in a fresh experiment folder. Prints the times and the ratio of medians.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runExperimentOnQueue } from '../src/experiments/queue.js';

const CLI = join(process.cwd(), 'dist/src/cli/bin.js');

function start(cmd: string, args: string[], ready: string): Promise<ChildProcess> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (b: Buffer) => { out += b; if (out.includes(ready)) resolve(proc); });
    proc.on('exit', (code) => reject(new Error(`${cmd} exited (${code}): ${out}`)));
  });
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return (s[Math.floor((s.length - 1) / 2)] + s[Math.ceil((s.length - 1) / 2)]) / 2;
};

async function main() {
  const { values, positionals } = parseArgs({ args: process.argv.slice(2), allowPositionals: true, options: {
    limit: { type: 'string', default: '6000' }, epochs: { type: 'string', default: '2' }, rounds: { type: 'string', default: '2' },
    workers: { type: 'string', default: '1,2' }, port: { type: 'string', default: '6398' } } });
  const name = positionals[0] ?? 'activation';
  const counts = values.workers!.split(',').map(Number);
  const scratch = mkdtempSync(join(tmpdir(), 'onnxtrain-bench-queue-'));
  const redis = await start('redis-server', ['--port', values.port!, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', scratch], 'Ready to accept connections');
  const url = `redis://127.0.0.1:${values.port}`;
  const times = new Map<number, number[]>(counts.map((c) => [c, []]));
  try {
    for (let round = 0; round < Number(values.rounds); round++) {
      for (const count of counts) {
        const workers = await Promise.all(Array.from({ length: count }, () => start(process.execPath, [CLI, 'worker', '--queue', url, '--threads', '1'], 'waiting for jobs')));
        const root = join(scratch, `round-${round}-workers-${count}`);
        const t0 = performance.now();
        await runExperimentOnQueue({ name, root, limit: Number(values.limit), epochs: Number(values.epochs), queue: url, pollMs: 200, log: () => {} });
        const seconds = (performance.now() - t0) / 1000;
        times.get(count)!.push(seconds);
        console.log(`round ${round + 1}: ${count} worker(s) ${seconds.toFixed(1)} s`);
        for (const w of workers) await stop(w);
        rmSync(root, { recursive: true, force: true });
      }
    }
  } finally {
    await stop(redis);
    rmSync(scratch, { recursive: true, force: true });
  }
  const base = median(times.get(counts[0])!);
  console.log(`\n| workers | wall time (s) | ratio of medians |\n|---|---|---|`);
  for (const c of counts) console.log(`| ${c} | ${times.get(c)!.map((t) => t.toFixed(1)).join(', ')} | ${(median(times.get(c)!) / base).toFixed(2)} |`);
}

main().catch((e) => { console.error(e); process.exit(1); });
