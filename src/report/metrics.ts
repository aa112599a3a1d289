/** Per-epoch training metrics: the record, its one-line print, and metrics.json / metrics.csv. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readJson, writeFileAtomic, writeJsonAtomic } from '../util/fsx.js';
import { formatFixed } from '../util/format.js';

/** One epoch of a training run. Accuracies are fractions in 0..1; losses are means per sample. */
export interface EpochMetrics {
  /** 1-based epoch number, as printed ("Epoch 3/20"). */
  epoch: number;
  /** Running mean of the training loss over the epoch (as the reference notebook computes it). */
  trainLoss: number;
  /** Fraction of training samples classified correctly during the epoch. */
  trainAcc: number;
  valLoss: number;
  valAcc: number;
  /** Wall-clock seconds the epoch took (training and validation). */
  seconds: number;
  /** Learning rate used in the epoch, when a schedule makes it worth recording. */
  lr?: number;
}

export const METRICS_JSON = 'metrics.json';
export const METRICS_CSV = 'metrics.csv';

const NUMBER_FIELDS = ['trainLoss', 'trainAcc', 'valLoss', 'valAcc', 'seconds'] as const;

/** CSV columns, in order, and the record field each one holds. */
const CSV_COLUMNS: ReadonlyArray<readonly [string, keyof EpochMetrics]> = [
  ['epoch', 'epoch'],
  ['train_loss', 'trainLoss'],
  ['train_acc', 'trainAcc'],
  ['val_loss', 'valLoss'],
  ['val_acc', 'valAcc'],
  ['seconds', 'seconds'],
  ['lr', 'lr'],
];

/**
 * The reference notebook's line, character for character:
 * `Epoch 3/20: Train Loss: 0.3012, Train Acc: 89.10% | Val Loss: 0.3300, Val Acc: 88.20%`.
 */
export function formatEpochLine(m: EpochMetrics, epochs: number): string {
  return `Epoch ${m.epoch}/${epochs}: Train Loss: ${formatFixed(m.trainLoss, 4)}, Train Acc: ${formatFixed(m.trainAcc * 100, 2)}%`
    + ` | Val Loss: ${formatFixed(m.valLoss, 4)}, Val Acc: ${formatFixed(m.valAcc * 100, 2)}%`;
}

/**
 * Write `dir/metrics.json` (an array of EpochMetrics) and `dir/metrics.csv`, each atomically.
 * Numbers keep full precision. A diverged run's NaN is written as null in JSON and NaN in CSV;
 * readMetrics turns null back into NaN.
 */
export async function writeMetrics(dir: string, history: readonly EpochMetrics[]): Promise<void> {
  history.forEach((m, i) => validateRecord(m, `history[${i}]`));
  await writeJsonAtomic(join(dir, METRICS_JSON), history.map(orderedRecord));
  await writeFileAtomic(join(dir, METRICS_CSV), metricsCsv(history));
}

/** The CSV text writeMetrics stores: a header row, then one row per epoch; an absent lr is an empty cell. */
export function metricsCsv(history: readonly EpochMetrics[]): string {
  const lines = [CSV_COLUMNS.map(([col]) => col).join(',')];
  for (const m of history) {
    lines.push(CSV_COLUMNS.map(([, field]) => (m[field] === undefined ? '' : String(m[field]))).join(','));
  }
  return lines.join('\n') + '\n';
}

/** Parse the CSV written by metricsCsv (column order may differ; the header names the columns). */
export function parseMetricsCsv(text: string, source = 'metrics.csv'): EpochMetrics[] {
  const rows = text.split(/\r?\n/).filter((line) => line.length > 0);
  if (rows.length === 0) throw new Error(`${source} is empty: expected a header row "${CSV_COLUMNS.map(([c]) => c).join(',')}"`);
  const header = rows[0].split(',');
  const index = new Map(header.map((name, i) => [name, i]));
  for (const [col, field] of CSV_COLUMNS) {
    if (field !== 'lr' && !index.has(col)) throw new Error(`${source} has no "${col}" column: the header must name ${CSV_COLUMNS.map(([c]) => c).join(',')}`);
  }
  return rows.slice(1).map((line, r) => {
    const cells = line.split(',');
    if (cells.length !== header.length) {
      throw new Error(`${source} row ${r + 2} has ${cells.length} cells, the header has ${header.length}`);
    }
    const record: Record<string, number> = {};
    for (const [col, field] of CSV_COLUMNS) {
      const i = index.get(col);
      if (i === undefined || cells[i] === '') continue;
      const value = Number(cells[i]);
      if (Number.isNaN(value) && cells[i] !== 'NaN') throw new Error(`${source} row ${r + 2}: "${col}" is not a number: "${cells[i]}"`);
      record[field] = value;
    }
    const m = record as unknown as EpochMetrics;
    validateRecord(m, `${source} row ${r + 2}`);
    return m;
  });
}

/** Read `dir/metrics.json` back into records (null -> NaN), validating each one. */
export async function readMetrics(dir: string): Promise<EpochMetrics[]> {
  const path = join(dir, METRICS_JSON);
  const raw = await readJson<unknown>(path);
  if (!Array.isArray(raw)) throw new Error(`${path} must hold an array of epoch records, got ${typeof raw}`);
  return raw.map((item, i) => {
    if (typeof item !== 'object' || item === null) throw new Error(`${path}[${i}] must be an object, got ${JSON.stringify(item)}`);
    const m = { ...(item as Record<string, unknown>) };
    for (const field of NUMBER_FIELDS) if (m[field] === null) m[field] = NaN;
    if (m.lr === null) m.lr = NaN;
    validateRecord(m as unknown as EpochMetrics, `${path}[${i}]`);
    return orderedRecord(m as unknown as EpochMetrics);
  });
}

/** Read `dir/metrics.csv`. */
export async function readMetricsCsv(dir: string): Promise<EpochMetrics[]> {
  const path = join(dir, METRICS_CSV);
  return parseMetricsCsv(await readFile(path, 'utf8'), path);
}

function orderedRecord(m: EpochMetrics): EpochMetrics {
  const out: EpochMetrics = {
    epoch: m.epoch, trainLoss: m.trainLoss, trainAcc: m.trainAcc, valLoss: m.valLoss, valAcc: m.valAcc, seconds: m.seconds,
  };
  if (m.lr !== undefined) out.lr = m.lr;
  return out;
}

function validateRecord(m: EpochMetrics, where: string): void {
  if (!Number.isInteger(m.epoch) || m.epoch < 1) {
    throw new Error(`${where}: epoch must be an integer >= 1 (epochs count from 1), got ${m.epoch}`);
  }
  for (const field of NUMBER_FIELDS) {
    if (typeof m[field] !== 'number') throw new Error(`${where}: ${field} must be a number, got ${JSON.stringify(m[field])}`);
  }
  if (m.lr !== undefined && typeof m.lr !== 'number') throw new Error(`${where}: lr must be a number or absent, got ${JSON.stringify(m.lr)}`);
}
