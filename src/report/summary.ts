/** torchsummary / torchinfo-style model summary table. */
import { formatFixed, formatThousands } from '../util/format.js';

/** One leaf layer, as the model code reports it. */
export interface SummaryRow {
  /** PyTorch module path, e.g. `features.0`. */
  name: string;
  /** Module type, e.g. `Conv2d`. */
  type: string;
  /** Output shape including the batch dimension, printed as given (e.g. [1, 16, 28, 28] or [-1, 16, 28, 28]). */
  outputShape: number[];
  /** Parameters owned by the layer (buffers such as BatchNorm running statistics excluded, as in torchsummary). */
  params: number;
  /** Whether those parameters are trained (false for frozen layers). */
  trainable: boolean;
  /** Multiply-accumulates per sample. */
  macs: number;
}

export interface SummarySettings {
  /** Shape of one input including the batch dimension; adds "Input size" and "Estimated Total Size". Default none. */
  inputShape?: number[];
  /** Bytes per parameter / activation element. Default 4 (float32), as torchsummary assumes. */
  bytesPerElement?: number;
}

export interface SummaryTotals {
  totalParams: number;
  trainableParams: number;
  nonTrainableParams: number;
  totalMacs: number;
  /** Parameters' memory, MiB (torchsummary's "Params size (MB)"). */
  paramsMB: number;
  /** Every layer output kept for backward, counted twice (value + gradient), MiB (torchsummary's rule). */
  forwardBackwardMB: number;
  /** Input memory, MiB; present when settings.inputShape is. */
  inputMB?: number;
}

const MB = 1024 * 1024;

export function summaryTotals(rows: readonly SummaryRow[], settings: SummarySettings = {}): SummaryTotals {
  rows.forEach(checkRow);
  const bytes = settings.bytesPerElement ?? 4;
  const totalParams = sum(rows.map((r) => r.params));
  const trainableParams = sum(rows.filter((r) => r.trainable).map((r) => r.params));
  const outputs = sum(rows.map((r) => product(r.outputShape.map(Math.abs))));
  const totals: SummaryTotals = {
    totalParams,
    trainableParams,
    nonTrainableParams: totalParams - trainableParams,
    totalMacs: sum(rows.map((r) => r.macs)),
    paramsMB: (totalParams * bytes) / MB,
    forwardBackwardMB: (2 * outputs * bytes) / MB,
  };
  if (settings.inputShape) totals.inputMB = (product(settings.inputShape.map(Math.abs)) * bytes) / MB;
  return totals;
}

/**
 * The summary table: one line per layer (Layer (type), Output Shape, Param #, Mult-Adds), then the totals
 * torchsummary prints (total / trainable / non-trainable parameters, sizes in MB) and torchinfo's total
 * mult-adds.
 */
export function formatSummary(rows: readonly SummaryRow[], title: string, settings: SummarySettings = {}): string {
  if (rows.length === 0) throw new Error(`formatSummary: no layers for "${title}"; the model reported no rows`);
  const t = summaryTotals(rows, settings);
  const header = ['Layer (type)', 'Output Shape', 'Param #', 'Mult-Adds'];
  const cells = rows.map((r) => [
    `${r.name} (${r.type})`,
    `[${r.outputShape.join(', ')}]`,
    formatThousands(r.params),
    formatThousands(r.macs),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, [25, 20, 12, 14][c], ...cells.map((row) => row[c].length)));
  const line = (row: string[]): string => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd();
  const width = widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  const rule = '-'.repeat(width);
  const double = '='.repeat(width);
  const mb = (v: number): string => formatFixed(v, 2);

  const out = [title, rule, line(header), double, ...cells.map(line), double];
  out.push(`Total params: ${formatThousands(t.totalParams)}`);
  out.push(`Trainable params: ${formatThousands(t.trainableParams)}`);
  out.push(`Non-trainable params: ${formatThousands(t.nonTrainableParams)}`);
  const [unit, scale] = macUnit(t.totalMacs);
  out.push(`Total mult-adds${unit ? ` (${unit})` : ''}: ${formatFixed(t.totalMacs / scale, 2)}`);
  out.push(rule);
  if (t.inputMB !== undefined) out.push(`Input size (MB): ${mb(t.inputMB)}`);
  out.push(`Forward/backward pass size (MB): ${mb(t.forwardBackwardMB)}`);
  out.push(`Params size (MB): ${mb(t.paramsMB)}`);
  if (t.inputMB !== undefined) out.push(`Estimated Total Size (MB): ${mb(t.inputMB + t.forwardBackwardMB + t.paramsMB)}`);
  out.push(rule);
  return out.join('\n') + '\n';
}

/** torchinfo's automatic units for the mult-add total. */
function macUnit(total: number): [string, number] {
  if (total >= 1e9) return ['G', 1e9];
  if (total >= 1e6) return ['M', 1e6];
  if (total >= 1e3) return ['K', 1e3];
  return ['', 1];
}

function checkRow(r: SummaryRow, i: number): void {
  const where = `summary row ${i} (${r.name ?? '?'})`;
  for (const field of ['params', 'macs'] as const) {
    if (!Number.isInteger(r[field]) || r[field] < 0) throw new Error(`${where}: ${field} must be a non-negative integer, got ${r[field]}`);
  }
  if (!Array.isArray(r.outputShape) || !r.outputShape.every(Number.isInteger)) {
    throw new Error(`${where}: outputShape must be integers (use -1 for the batch), got ${JSON.stringify(r.outputShape)}`);
  }
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function product(values: number[]): number {
  return values.reduce((a, b) => a * b, 1);
}
