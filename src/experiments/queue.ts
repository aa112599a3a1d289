/**
 * An experiment's runs as BullMQ jobs on Redis: the coordinator enqueues one job per (variant, seed), shows
 * progress and writes the report when every job is done; workers on any machine take jobs and train into the
 * shared experiment folder. BullMQ's job lock is the authority on who runs a job: a worker that stops renewing
 * it (kill -9, a lost machine) leaves the job stalled, BullMQ hands it to another worker, and that one takes
 * over the run folder's lock (even when it names a PID of another host) and resumes from the last checkpoint.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { DelayedError, Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Device } from '../train/session.js';
import { makeDir } from '../util/fsx.js';
import { lockFolder } from '../util/lock.js';
import { findExperiment, type Experiment } from './catalog.js';
import {
  adoptSingleSeedRuns, datasetChecker, experimentCommandLine, experimentDir, ExperimentInterrupted, planRuns, runCost, runOne, runState, selectVariants,
  variantSettings, writeExperimentReport, type ExperimentResult, type ExperimentSettings, type PlannedRun, type RunOutcome,
} from './run.js';

/** The one queue every experiment's jobs go to (several experiments may share the workers). */
export const QUEUE_NAME = 'onnxtrain-runs';

/** What a job carries: everything that decides a run's numbers, nothing that belongs to one machine. */
export interface RunJobData {
  /** Experiment name (catalog). */
  name: string;
  /** Absolute folder holding one folder per experiment: the same path on every machine (shared storage). */
  root: string;
  variant: string;
  seed: number;
  epochs?: number;
  limit?: number;
}

export interface QueueSettings {
  /** redis://[:password@]host:port[/db] (rediss:// for TLS). */
  queue: string;
  /** Tries per job before it is marked failed. Default 3. */
  attempts?: number;
  /** How often the coordinator looks at the jobs, in ms. Default 1000. */
  pollMs?: number;
}

export interface WorkerSettings {
  queue: string;
  /** Jobs at a time. Default 1. */
  concurrency?: number;
  /** onnxruntime intra-op threads per run. Default: onnxruntime's choice. */
  threads?: number;
  device?: Device;
  /** This machine's folder of dataset folders. Default data. */
  dataRoot?: string;
  download?: boolean;
  /**
   * A job whose worker has not renewed its lock for this long is stalled and handed to another worker.
   * Default 30 (BullMQ's default); the check runs as often.
   */
  stalledAfterSeconds?: number;
  log?: (line: string) => void;
  /** Stops the worker: the run in progress saves and goes back to the queue. */
  signal?: AbortSignal;
  /** Called once the worker is connected and waiting for jobs. */
  onReady?: () => void;
}

/** BullMQ connection options from a redis:// URL; one line naming the fix when it is not one. */
export function redisConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue ${url}: not a URL; use redis://host:6379`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`--queue ${url}: use a redis:// (or rediss://) URL, e.g. redis://host:6379`);
  if (!u.hostname) throw new Error(`--queue ${url}: no host; use redis://host:6379`);
  // maxRetriesPerRequest null: a command waits for Redis to come back instead of failing (BullMQ needs it for workers).
  return { url, maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(times * 500, 5000) };
}

/** A job id from the run and what decides its numbers (BullMQ ids may not contain ':'). */
export function jobId(d: RunJobData): string {
  const hash = createHash('sha256').update(JSON.stringify([d.root, d.name, d.variant, d.seed, d.epochs ?? null, d.limit ?? null])).digest('hex').slice(0, 12);
  return `${d.name}.${d.variant}.seed-${d.seed}.${hash}`;
}

const jobData = (es: ExperimentSettings, root: string, run: PlannedRun): RunJobData =>
  ({ name: es.name, root, variant: run.variant.name, seed: run.seed, epochs: es.epochs, limit: es.limit });

type JobState = Awaited<ReturnType<Job['getState']>>;
const WAITING: ReadonlySet<string> = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children', 'unknown']);

/**
 * The coordinator: enqueues the experiment's runs (a job already in the queue is kept; a failed one is
 * retried), prints progress until every job has finished, then writes the report from the run folders.
 * Stopping it (signal) loses nothing: the jobs stay queued and running again picks up where it was.
 */
export async function runExperimentOnQueue(es: ExperimentSettings & QueueSettings): Promise<ExperimentResult> {
  const exp = findExperiment(es.name);
  const log = es.log ?? ((line: string) => console.log(line));
  const root = resolve(es.root ?? join('runs', 'experiments'));
  const dir = experimentDir({ root, name: exp.name });
  const connection = redisConnection(es.queue);
  await makeDir(dir);
  // The experiment folder's lock keeps a second coordinator (on this machine or another) away.
  const unlock = await lockFolder(dir, `experiment ${exp.name} (queue coordinator)`);
  const queue = new Queue<RunJobData, RunOutcome>(QUEUE_NAME, { connection });
  queue.on('error', (e) => log(`[${exp.name}] queue: ${e.message} (retrying)`));
  try {
    await adoptSingleSeedRuns(dir, selectVariants(exp, es.only), log);
    const runs = planRuns(exp, { ...es, root }, dir);
    // Refuse a mix before anything is queued: a run folder made with another --limit or --epochs.
    for (const run of runs) await runState(run.runDir, variantSettings(run.variant, { ...es, seed: run.seed }, run.runDir));
    const ids = new Map(runs.map((r) => [r.id, jobId(jobData(es, root, r))]));
    const priority = longestFirst(runs, es);
    let added = 0;
    for (const run of runs) {
      const id = ids.get(run.id)!;
      const job = await queue.getJob(id);
      if (!job) {
        await queue.add(run.id, jobData(es, root, run), {
          jobId: id, priority: priority.get(run.id), attempts: es.attempts ?? 3, backoff: { type: 'fixed', delay: 2000 }, removeOnComplete: false, removeOnFail: false,
        });
        added++;
      } else if ((await job.getState()) === 'failed') {
        log(`[${exp.name}] ${run.id}: failed before (${job.failedReason}); trying again`);
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      }
    }
    log(`[${exp.name}] ${runs.length} runs on ${es.queue} (${added} new, ${runs.length - added} queued before); start workers with \`npx onnxtrain worker --queue ${es.queue}\``);
    const jobs = await watch(exp, queue, runs, ids, es, log);
    const outcomes = new Map<string, Pick<RunOutcome, 'status' | 'note'>>();
    for (const run of runs) {
      const job = jobs.get(run.id)!;
      outcomes.set(run.id, job.state === 'failed' ? { status: 'failed', note: `failed after ${job.attempts} attempts: ${job.failedReason}` } : job.returnvalue);
    }
    const report = await writeExperimentReport(exp, { ...es, root }, dir, runs, outcomes);
    log(`Report: ${join(dir, 'report.md')} and report.html`);
    return { dir, ...report, trained: [], resumed: [], skipped: [], missing: runs.filter((r) => outcomes.get(r.id)!.status === 'missing-data').map((r) => r.id) };
  } finally {
    await queue.close();
    await unlock();
  }
}

/**
 * BullMQ priorities (1 = first) that hand out the longest runs first, so that the last runs to start are short
 * ones and no worker is left with a long run while the others have nothing to do.
 */
function longestFirst(runs: PlannedRun[], es: ExperimentSettings): Map<string, number> {
  const cost = new Map(runs.map((r) => [r.id, runCost(variantSettings(r.variant, { ...es, seed: r.seed }, r.runDir))]));
  const order = [...runs].sort((a, b) => cost.get(b.id)! - cost.get(a.id)!);
  return new Map(order.map((r, i) => [r.id, i + 1]));
}

interface FinishedJob {
  state: JobState;
  returnvalue: RunOutcome;
  failedReason: string;
  attempts: number;
}

/** Polls the jobs until each is completed or failed, printing a progress line whenever the counts change. */
async function watch(exp: Experiment, queue: Queue<RunJobData, RunOutcome>, runs: PlannedRun[], ids: Map<string, string>, es: ExperimentSettings & QueueSettings,
  log: (line: string) => void): Promise<Map<string, FinishedJob>> {
  const started = Date.now();
  let last = '';
  let lastPrinted = 0;
  for (;;) {
    const jobs = new Map<string, FinishedJob & { seconds: number | null }>();
    for (const run of runs) {
      const job = await queue.getJob(ids.get(run.id)!);
      if (!job) throw new Error(`${run.id}: its job ${ids.get(run.id)} left the queue (removed by hand?): run the experiment again to queue it anew`);
      const state = await job.getState();
      const seconds = state === 'completed' && job.finishedOn && job.processedOn ? (job.finishedOn - job.processedOn) / 1000 : null;
      jobs.set(run.id, { state, returnvalue: job.returnvalue, failedReason: job.failedReason, attempts: job.attemptsMade, seconds });
    }
    const states = [...jobs.values()].map((j) => j.state);
    const n = (pred: (s: string) => boolean) => states.filter(pred).length;
    const [waiting, active, done, failed] = [n((s) => WAITING.has(s)), n((s) => s === 'active'), n((s) => s === 'completed'), n((s) => s === 'failed')];
    const line = `${waiting} waiting, ${active} active, ${done} done, ${failed} failed (of ${runs.length})`;
    if (line !== last || Date.now() - lastPrinted > 60_000) {
      const times = [...jobs.values()].map((j) => j.seconds).filter((s): s is number => s !== null);
      const eta = waiting + active === 0 ? '' : times.length
        ? `; ETA ${formatDuration((times.reduce((a, s) => a + s, 0) / times.length) * (waiting + active) / Math.max(1, active))}`
        : '; ETA after the first run finishes';
      log(`[${exp.name}] ${line}${eta} (${formatDuration((Date.now() - started) / 1000)} watching)`);
      last = line;
      lastPrinted = Date.now();
    }
    if (done + failed === runs.length) return jobs;
    if (es.signal?.aborted) {
      throw new ExperimentInterrupted(`stopped watching ${exp.name}: its jobs stay queued and the workers keep training; run \`${experimentCommandLine(es)} --queue ${es.queue}\` again to watch and write the report`);
    }
    await sleep(es.pollMs ?? 1000, es.signal);
  }
}

/**
 * A worker: takes run jobs one at a time (or `concurrency`), trains each into its run folder (resuming
 * from its checkpoint when another worker began it), and returns the run's outcome. Resolves when the
 * signal stops it; the run in progress saves and goes back to the queue without using up an attempt.
 */
export async function runWorker(ws: WorkerSettings): Promise<void> {
  const log = ws.log ?? ((line: string) => console.log(line));
  const stalledMs = (ws.stalledAfterSeconds ?? 30) * 1000;
  const datasets = datasetChecker(log);
  /** The stop of each job in progress, by job id. */
  const stops = new Map<string, AbortController>();
  const worker = new Worker<RunJobData, RunOutcome>(QUEUE_NAME, async (job, token) => {
    const stop = new AbortController();
    stops.set(job.id!, stop);
    try {
      return await processRun(job, ws, datasets, stop.signal, log);
    } catch (e) {
      if (!(e instanceof ExperimentInterrupted) || !token || stop.signal.reason !== 'worker stopping') throw e;
      // Stopped by the worker's own signal: the run saved; back to the queue without using up an attempt.
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    } finally {
      stops.delete(job.id!);
    }
  }, {
    connection: redisConnection(ws.queue), concurrency: ws.concurrency ?? 1, autorun: false,
    // Renewals run on this event loop, which training blocks for seconds at a time (data loading, compiling
    // graphs): the lock must outlast that. Checking for stalled jobs more often than that costs little.
    lockDuration: stalledMs, stalledInterval: Math.min(stalledMs, 5000), maxStalledCount: 5,
  });
  // BullMQ gave the job to another worker (this one was too slow to renew its lock): stop training it.
  worker.on('lockRenewalFailed', (ids) => {
    for (const id of ids) {
      log(`job ${id}: its lock expired and the job went to another worker: stopping this copy of the run`);
      stops.get(id)?.abort('lock lost');
    }
  });
  // Without a listener an 'error' event would end the process; Redis going away is logged and retried.
  worker.on('error', (e) => log(`worker: ${e.message} (retrying)`));
  worker.on('failed', (job, e) => { if (job && !(e instanceof DelayedError)) log(`[${job.data.name}] ${job.name}: attempt ${job.attemptsMade} failed: ${e.message}`); });
  const stopped = new Promise<void>((done) => {
    if (ws.signal?.aborted) done();
    ws.signal?.addEventListener('abort', () => { for (const s of stops.values()) s.abort('worker stopping'); done(); }, { once: true });
  });
  const running = worker.run();
  await worker.waitUntilReady();
  log(`worker ${hostname()} PID ${process.pid}: waiting for jobs on ${ws.queue}`);
  ws.onReady?.();
  await stopped;
  await worker.close();
  await running;
}

async function processRun(job: Job<RunJobData, RunOutcome>, ws: WorkerSettings, datasets: ReturnType<typeof datasetChecker>, signal: AbortSignal,
  log: (line: string) => void): Promise<RunOutcome> {
  const d = job.data;
  if (!isAbsolute(d.root)) throw new Error(`job ${job.id}: its folder ${d.root} is not absolute`);
  const exp = findExperiment(d.name);
  const variant = exp.variants.find((v) => v.name === d.variant);
  if (!variant) throw new Error(`job ${job.id}: experiment '${d.name}' has no variant '${d.variant}' in this onnxtrain version`);
  if (!existsSync(d.root)) throw new Error(`${d.root} is not on this machine: mount the shared experiment folder at the same path on every worker`);
  const dir = experimentDir({ root: d.root, name: d.name });
  const runDir = join(dir, variant.name, `seed-${d.seed}`);
  const run: PlannedRun = { variant, seed: d.seed, runDir, id: `${variant.name}/seed-${d.seed}` };
  // BullMQ gave this job to us, so whoever locked the run folder on another machine lost the job: take over.
  if (existsSync(runDir)) await (await lockFolder(runDir, 'queue takeover', { foreignIsStale: true }))();
  const es: ExperimentSettings = { name: d.name, root: d.root, epochs: d.epochs, limit: d.limit, seed: d.seed, dataRoot: ws.dataRoot, download: ws.download,
    device: ws.device, threads: ws.threads, log: (line) => log(`[${d.name} ${run.id}] ${line}`), progress: null, signal };
  log(`[${d.name}] ${run.id}: taken (attempt ${job.attemptsMade + 1})`);
  const outcome = await runOne(exp, run, es, datasets, es.log!);
  log(`[${d.name}] ${run.id}: ${outcome.status}${outcome.note ? ` (${outcome.note})` : ''}`);
  return outcome;
}

function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((done) => {
  const wake = () => { clearTimeout(t); signal?.removeEventListener('abort', wake); done(); };
  const t = setTimeout(wake, ms);
  signal?.addEventListener('abort', wake, { once: true });
});
