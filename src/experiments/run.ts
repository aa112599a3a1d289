/** Runs an experiment's variants into runs/experiments/<name>/<variant>/ (resuming), then writes its report. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CIFAR10_ARCHIVE, CIFAR10_BASE_URL, CIFAR10_BATCH_DIR } from '../data/cifar10.js';
import { DATASETS, type DatasetName } from '../data/datasets.js';
import { displayPath } from '../data/paths.js';
import { buildModelDef, datasetOf } from '../models/registry.js';
import { parameterCount, signature } from '../program/signature.js';
import { NonFiniteLoss } from '../train/callbacks/index.js';
import { resolveSettings, resumeSettings } from '../train/resolve_settings.js';
import { runFile } from '../train/run_dir.js';
import { Interrupted, train } from '../train/run.js';
import type { Device } from '../train/session.js';
import type { TrainSettings } from '../train/settings.js';
import { makeDir, readJson, writeJsonAtomic } from '../util/fsx.js';
import { lockFolder } from '../util/lock.js';
import { findExperiment, type Experiment, type Variant } from './catalog.js';
import { gradientNorms } from './gradnorms.js';
import { readRunRow, writeReport, type ReportRow } from './report.js';

export interface ExperimentSettings {
  /** An experiment of the catalog (see --list). */
  name: string;
  /** Epochs for every run. Default: each model's default (20; cifar10-cnn 10). */
  epochs?: number;
  /** Train on the first N training images only (quick runs). Default: all. */
  limit?: number;
  /** Only these variants (folder names). Default: all. */
  only?: string[];
  /** Folder that holds one folder per experiment. Default runs/experiments. */
  root?: string;
  /** Folder holding the dataset folders fashion-mnist/ and cifar10/. Default data. */
  dataRoot?: string;
  /** Download missing datasets. Default true. */
  download?: boolean;
  /** Default 0. */
  seed?: number;
  /** Default 'cpu'. */
  device?: Device;
  /** onnxruntime intra-op threads. Default: onnxruntime's choice. */
  threads?: number;
  /** Default console.log. */
  log?: (line: string) => void;
  /** Progress bar stream; null: none. Default process.stderr. */
  progress?: NodeJS.WriteStream | null;
  /** Stop (as Ctrl-C does) a run after this many optimizer steps in this call, ending the experiment there; tests use it. */
  stopAfterSteps?: number;
  /** Stops the run in progress after its current chunk (Ctrl-C); it resumes when the experiment runs again. */
  signal?: AbortSignal;
}

export interface ExperimentResult {
  dir: string;
  rows: ReportRow[];
  files: string[];
  /** Variants by what happened in this call. */
  trained: string[];
  resumed: string[];
  skipped: string[];
  missing: string[];
}

/** Raised when a stop request interrupted a run: the experiment continues from there when run again. */
export class ExperimentInterrupted extends Error {
  override name = 'ExperimentInterrupted';
}

const DIVERGED = 'diverged.json';

export async function runExperiment(es: ExperimentSettings): Promise<ExperimentResult> {
  const exp = findExperiment(es.name);
  const dir = join(es.root ?? join('runs', 'experiments'), exp.name);
  await makeDir(dir);
  const unlock = await lockFolder(dir, `experiment ${exp.name}`);
  try {
    return await runVariants(es, exp, dir);
  } finally {
    await unlock();
  }
}

async function runVariants(es: ExperimentSettings, exp: Experiment, dir: string): Promise<ExperimentResult> {
  const log = es.log ?? ((line: string) => console.log(line));
  const variants = selectVariants(exp, es.only);
  const result: ExperimentResult = { dir, rows: [], files: [], trained: [], resumed: [], skipped: [], missing: [] };
  const availability = new Map<DatasetName, string | null>();

  for (const v of variants) {
    const runDir = join(dir, v.name);
    const s = variantSettings(v, es, runDir);
    const def = buildModelDef(s.model, s.options);
    const base = { variant: v.name, label: v.label, model: s.model, parameters: parameters(s), status: 'done' as ReportRow['status'] };
    const dataset = datasetOf(s.model);
    if (!availability.has(dataset)) availability.set(dataset, await datasetProblem(dataset, s, log));
    const problem = availability.get(dataset)!;
    if (problem) {
      log(`[${exp.name}] ${v.name}: skipped, ${def.dataset.name} is missing`);
      result.missing.push(v.name);
      result.rows.push(await readRunRow(runDir, { ...base, status: 'missing-data', note: problem }));
      continue;
    }
    if (existsSync(join(runDir, DIVERGED))) {
      result.skipped.push(v.name);
      result.rows.push(await readRunRow(runDir, { ...base, status: 'diverged', note: (await readJson<{ message: string }>(join(runDir, DIVERGED))).message }));
      continue;
    }
    const state = await runState(runDir, s);
    if (state === 'finished') {
      log(`[${exp.name}] ${v.name}: finished earlier, skipped`);
      result.skipped.push(v.name);
    } else {
      log(`[${exp.name}] ${v.name}: ${state === 'resume' ? 'resuming' : 'training'} ${v.label}`);
      (state === 'resume' ? result.resumed : result.trained).push(v.name);
      const settings = state === 'resume'
        ? await resumeSettings(runDir, { epochs: s.epochs, device: s.device, threads: s.threads, dataDir: s.dataDir, download: s.download, log, progress: es.progress })
        : s;
      try {
        await train({ ...settings, stopAfterSteps: es.stopAfterSteps }, state === 'resume' ? { dir: runDir } : undefined, es.signal);
      } catch (e) {
        if (e instanceof Interrupted) throw new ExperimentInterrupted(interruptedMessage(exp, runDir, es));
        if (!(e instanceof NonFiniteLoss)) throw e;
        log(`[${exp.name}] ${v.name}: ${e.message}`);
        await writeJsonAtomic(join(runDir, DIVERGED), { message: e.message });
        result.rows.push(await readRunRow(runDir, { ...base, status: 'diverged', note: e.message }));
        continue;
      }
    }
    if (exp.gradientNorms && !existsSync(join(runDir, 'gradnorms.json'))) {
      await writeJsonAtomic(join(runDir, 'gradnorms.json'), await gradientNorms(runDir, s));
    }
    result.rows.push(await readRunRow(runDir, base));
  }

  const limit = es.limit ? `, first ${es.limit} training images (--limit)` : '';
  const epochs = es.epochs ? `${es.epochs} epoch${es.epochs === 1 ? '' : 's'}` : 'default epochs (20; cifar10-cnn 10)';
  result.files = await writeReport(dir, result.rows, { experiment: exp, settingsLine: `Runs: ${epochs}${limit}, seed ${es.seed ?? 0}; run folders in ${displayPath(dir)}/<variant>/.` });
  log(`Report: ${join(dir, 'report.md')} and report.html`);
  return result;
}

function selectVariants(exp: Experiment, only?: string[]): Variant[] {
  if (!only?.length) return exp.variants;
  for (const o of only) {
    if (!exp.variants.some((v) => v.name === o)) throw new Error(`experiment '${exp.name}' has no variant '${o}': use ${exp.variants.map((v) => v.name).join(', ')}`);
  }
  return exp.variants.filter((v) => only.includes(v.name));
}

/** The full settings of a variant's run. */
export function variantSettings(v: Variant, es: ExperimentSettings, out: string): TrainSettings {
  const s: TrainSettings = { ...resolveSettings(v.settings), out };
  if (es.epochs !== undefined) s.epochs = es.epochs;
  if (es.limit !== undefined) s.limit = es.limit;
  if (es.seed !== undefined) s.seed = es.seed;
  if (es.device) s.device = es.device;
  s.threads = es.threads;
  s.dataDir = es.dataRoot === undefined ? undefined : join(es.dataRoot, datasetOf(s.model));
  s.download = es.download;
  s.log = es.log ?? s.log;
  s.progress = es.progress;
  return s;
}

function parameters(s: TrainSettings): number {
  return parameterCount(signature({ def: buildModelDef(s.model, s.options), optimizer: s.optimizer }));
}

/**
 * finished: results.json is there and the run has the epochs asked for (or stopped early); resume: a
 * checkpoint is there; new: nothing yet. A run made with another --limit is an error, not a silent mix.
 */
async function runState(runDir: string, s: TrainSettings): Promise<'finished' | 'resume' | 'new'> {
  if (!existsSync(runFile(runDir, 'config'))) return 'new';
  const cfg = await readJson<{ limit: number | null; seed: number; epochs: number }>(runFile(runDir, 'config'));
  const other = (flag: string, was: unknown) => new Error(`${runDir} was trained with ${flag} ${was ?? '(none)'}: pass the same ${flag}, or another --out to run the experiment anew there`);
  if ((cfg.limit ?? undefined) !== s.limit) throw other('--limit', cfg.limit);
  if (cfg.seed !== s.seed) throw other('--seed', cfg.seed);
  if (existsSync(runFile(runDir, 'results'))) {
    const r = await readJson<{ epochs: number; stopped: string }>(runFile(runDir, 'results'));
    if (r.stopped !== 'early-stopping' && r.epochs > s.epochs) throw other('--epochs', r.epochs);
    if (r.stopped === 'early-stopping' || r.epochs >= s.epochs) return 'finished';
  }
  return existsSync(runFile(runDir, 'last')) ? 'resume' : 'new';
}

function interruptedMessage(exp: Experiment, runDir: string, es: ExperimentSettings): string {
  const flags = [
    es.root !== undefined ? `--out ${es.root}` : '', es.epochs !== undefined ? `--epochs ${es.epochs}` : '', es.limit !== undefined ? `--limit ${es.limit}` : '',
    es.seed ? `--seed ${es.seed}` : '', es.only?.length ? `--only ${es.only.join(' ')}` : '', es.dataRoot !== undefined ? `--data-dir ${es.dataRoot}` : '',
  ].filter(Boolean).join(' ');
  return `interrupted in ${runDir}: run \`npm run experiment -- ${exp.name}${flags ? ' ' + flags : ''}\` again to continue (finished runs are skipped)`;
}

/** null when the dataset loads (downloading it if allowed); else what is wrong and how to get it. */
async function datasetProblem(name: DatasetName, s: TrainSettings, log: (line: string) => void): Promise<string | null> {
  try {
    // --data-dir names the folder that holds one folder per dataset: each dataset's folder is made there.
    if (s.dataDir && existsSync(dirname(s.dataDir))) await makeDir(s.dataDir);
    await DATASETS[name].load({ dataDir: s.dataDir, download: s.download, log });
    return null;
  } catch (e) {
    const message = (e as Error).message.split('\n')[0];
    if (name === 'cifar10') {
      const where = displayPath(s.dataDir ?? join('data', 'cifar10'));
      const why = message.startsWith('CIFAR-10 is missing') ? `no ${CIFAR10_BATCH_DIR}/ or ${CIFAR10_ARCHIVE} there, downloads off` : message;
      return `CIFAR-10 could not be loaded from ${where}/ (${why}). To get it, download ${CIFAR10_BASE_URL}${CIFAR10_ARCHIVE} (170 MB) into ${where}/, `
        + `or let onnxtrain download it (drop --no-download; needs internet access); then run this experiment again: finished runs are skipped.`;
    }
    const why = message;
    return `Fashion-MNIST is not available (${why}). To get it, \`apt-get install dataset-fashion-mnist\` or allow downloads into data/fashion-mnist/, then run this experiment again.`;
  }
}
