/** An experiment's comparison report: a table from each run's files, overlaid curves, report.md and report.html. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { linePanel, type Series } from '../report/chart.js';
import { METRIC_LABELS, type Metric } from '../report/plot.js';
import { PALETTE, svgDocument, svgToPng } from '../report/svg.js';
import { readMetrics, type EpochMetrics } from '../report/metrics.js';
import { readJson, writeFileAtomic, writeJsonAtomic } from '../util/fsx.js';
import type { Experiment } from './catalog.js';
import { compareWithBaseline, summarizeVariants, type Comparison, type VariantSummary } from './compare.js';
import type { LayerNorm } from './gradnorms.js';
import type { Summary } from './stats.js';

export interface ReportRow {
  variant: string;
  label: string;
  model: string;
  seed: number;
  /**
   * done: trained (or early-stopped); missing-data: its dataset is unavailable; diverged: the loss became NaN;
   * failed: a queue job that failed all its attempts.
   */
  status: 'done' | 'missing-data' | 'diverged' | 'failed';
  /** Why a run is missing or diverged, and what to do. */
  note?: string;
  /** Epochs trained. */
  epochs: number;
  /** Highest validation accuracy and its epoch. */
  bestValAcc: number | null;
  bestEpoch: number | null;
  finalValAcc: number | null;
  testAcc: number | null;
  /** Mean wall-clock seconds per epoch (training and validation). */
  secondsPerEpoch: number | null;
  /** Parameter count (trainable and frozen, without BatchNorm buffers). */
  parameters: number;
  gradientNorms?: LayerNorm[];
  history: EpochMetrics[];
}

export const REPORT_FILES = { md: 'report.md', html: 'report.html', json: 'report.json', valLoss: 'val_loss.png', valAcc: 'val_acc.png' } as const;

/** A row from a run folder's metrics.json and results.json. */
export async function readRunRow(dir: string, base: Pick<ReportRow, 'variant' | 'label' | 'model' | 'seed' | 'parameters' | 'status' | 'note'>): Promise<ReportRow> {
  const history = existsSync(join(dir, 'metrics.json')) ? await readMetrics(dir) : [];
  const results = existsSync(join(dir, 'results.json')) ? await readJson<{ test: { acc: number } | null }>(join(dir, 'results.json')) : null;
  const best = history.reduce<EpochMetrics | null>((b, m) => (!b || m.valAcc > b.valAcc ? m : b), null);
  const gradientNorms = existsSync(join(dir, 'gradnorms.json')) ? await readJson<LayerNorm[]>(join(dir, 'gradnorms.json')) : undefined;
  return {
    ...base,
    epochs: history.length,
    bestValAcc: best?.valAcc ?? null,
    bestEpoch: best?.epoch ?? null,
    finalValAcc: history.at(-1)?.valAcc ?? null,
    testAcc: results?.test?.acc ?? null,
    secondsPerEpoch: history.length ? history.reduce((a, m) => a + m.seconds, 0) / history.length : null,
    gradientNorms,
    history,
  };
}

export const pct = (v: number | null): string => (v === null || !Number.isFinite(v) ? '–' : `${(v * 100).toFixed(2)}%`);
export const secs = (v: number | null): string => (v === null ? '–' : v.toFixed(2));
export const count = (v: number): string => v.toLocaleString('en-US');

/** The runs table: one row per (variant, seed). */
export const TABLE_HEADER = ['Variant', 'Seed', 'Model', 'Best val acc', 'Epoch of best', 'Final val acc', 'Test acc', 's/epoch', 'Epochs', 'Parameters'];

/** The runs table's cells for one run, as report.md and report.html print them. */
export function tableCells(r: ReportRow): string[] {
  const status = r.status === 'missing-data' ? ' (not run: data missing)' : r.status === 'diverged' ? ' (diverged)' : r.status === 'failed' ? ' (failed)' : '';
  return [r.label + status, String(r.seed), r.model, pct(r.bestValAcc), r.bestEpoch === null ? '–' : String(r.bestEpoch), pct(r.finalValAcc), pct(r.testAcc), secs(r.secondsPerEpoch), String(r.epochs), count(r.parameters)];
}

/** The variants table: mean ± sd over seeds, and the 95 % interval of the mean test accuracy. */
export const SUMMARY_HEADER = ['Variant', 'Model', 'Seeds', 'Test acc', 'Test acc 95 % CI', 'Best val acc', 'Epoch of best', 's/epoch', 'Epochs', 'Parameters'];

/** "91.03 ± 0.21%" (one seed: "91.03%"); scale 100 and unit '%' for accuracies. */
export function meanSd(s: Summary | null, digits: number, scale = 1, unit = ''): string {
  if (!s) return '–';
  const m = (s.mean * scale).toFixed(digits);
  return s.n > 1 ? `${m} ± ${(s.sd * scale).toFixed(digits)}${unit}` : `${m}${unit}`;
}

export function summaryCells(v: VariantSummary): string[] {
  const ci = v.testAcc?.ci ? `${(v.testAcc.ci[0] * 100).toFixed(2)}–${(v.testAcc.ci[1] * 100).toFixed(2)}%` : '–';
  return [v.label, v.model, String(v.seeds.length), meanSd(v.testAcc, 2, 100, '%'), ci, meanSd(v.bestValAcc, 2, 100, '%'),
    meanSd(v.bestEpoch, 1), meanSd(v.secondsPerEpoch, 2), meanSd(v.epochs, 1), count(v.parameters)];
}

export const COMPARISON_HEADER = ['Variant', 'Difference in test acc', '95 % CI', 'Seeds higher', 'p', 'Verdict'];

export function comparisonCells(c: Comparison): string[] {
  const t = c.test;
  if (!t) return [c.label, '–', '–', '–', '–', c.outcome];
  const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(2)}`;
  return [c.label, `${signed(t.meanDiff)} points`, `${signed(t.ci[0])} to ${signed(t.ci[1])}`, `${t.higher} of ${t.n}`, t.p < 0.001 ? '< 0.001' : t.p.toFixed(3), c.outcome];
}

export interface ReportContext {
  experiment: Experiment;
  /** One line on how the runs were made (epochs, limit, seeds). */
  settingsLine: string;
  /** The variant the others are compared with. */
  baseline: string;
  seeds: number[];
}

/**
 * The mean curve of each variant over its seeds, with the seeds' min-max band around it (one seed: the
 * run's curve alone). Epochs that only some seeds reached (early stopping) average those seeds.
 */
export function seedBandSeries(rows: readonly ReportRow[], metric: Metric): Series[] {
  const scale = metric === 'valAcc' || metric === 'trainAcc' ? 100 : 1;
  const variants = [...new Set(rows.filter((r) => r.history.length).map((r) => r.variant))];
  return variants.map((variant, i) => {
    const runs = rows.filter((r) => r.variant === variant && r.history.length);
    const epochs = [...new Set(runs.flatMap((r) => r.history.map((m) => m.epoch)))].sort((a, b) => a - b);
    const at = (e: number) => runs.flatMap((r) => r.history.filter((m) => m.epoch === e).map((m) => (m[metric] ?? NaN) * scale));
    const points = epochs.map((e) => [e, at(e).reduce((a, x) => a + x, 0) / at(e).length] as const);
    const band = runs.length > 1 ? epochs.map((e) => [e, Math.min(...at(e)), Math.max(...at(e))] as const) : undefined;
    return { label: runs.length > 1 ? `${runs[0].label} (${runs.length} seeds)` : runs[0].label, color: PALETTE[i % PALETTE.length], dashed: i >= PALETTE.length, points, band };
  });
}

async function renderSeedBands(rows: readonly ReportRow[], metric: Metric, title: string): Promise<Buffer> {
  const [width, height] = [900, 520];
  const percent = metric === 'valAcc' || metric === 'trainAcc';
  const label = METRIC_LABELS[metric];
  const body = linePanel({
    x: 0, y: 0, width, height, series: seedBandSeries(rows, metric), title,
    xLabel: 'Epoch', yLabel: percent ? `${label} (%)` : label, integerX: true, yUnit: percent ? '%' : '',
  });
  return svgToPng(svgDocument(width, height, body));
}

const STATS_NOTE = 'Per variant: mean ± standard deviation over the seeds that finished, and the 95 % confidence interval of the mean test accuracy '
  + '(Student\'s t, n − 1 degrees of freedom). Comparisons: a paired t-test over seeds against the baseline; the same seed gives the same '
  + 'train/validation split and data order, and the same initial weights where the architectures are the same. "Better" or "worse" means '
  + 'the 95 % interval of the mean difference excludes zero (p < 0.05); otherwise no difference is shown.';

/** Writes report.md, report.html, report.json and the validation curves (mean and seed band per variant) into `dir`. */
export async function writeReport(dir: string, rows: ReportRow[], ctx: ReportContext): Promise<string[]> {
  const trained = rows.filter((r) => r.history.length > 0);
  const variants = summarizeVariants(rows);
  const comparisons = compareWithBaseline(rows, ctx.baseline);
  const baselineLabel = variants.find((v) => v.variant === ctx.baseline)?.label ?? ctx.baseline;
  const bands = ctx.seeds.length > 1 ? ' (line: mean over seeds; band: lowest to highest seed)' : '';
  const charts: [Metric, string, string][] = [['valLoss', REPORT_FILES.valLoss, 'Validation loss'], ['valAcc', REPORT_FILES.valAcc, 'Validation accuracy']];
  const written: string[] = [];
  for (const [metric, file, title] of charts) {
    if (!trained.length) continue;
    await writeFileAtomic(join(dir, file), await renderSeedBands(rows, metric, `${ctx.experiment.title}: ${title.toLowerCase()}`));
    written.push(join(dir, file));
  }
  const notes = rows.filter((r) => r.note).map((r) => `${r.label}, seed ${r.seed}: ${r.note}`);
  const norms = rows.filter((r) => r.gradientNorms?.length);
  // Text columns (left-aligned): the first `textColumns`, and the last where it holds words (the verdict).
  const isText = (header: string[], i: number, textColumns: number) => i < textColumns || header[i] === 'Verdict';
  const mdTable = (header: string[], body: string[][], textColumns: number) => [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (isText(header, i, textColumns) ? '---' : '---:')).join('|')}|`,
    ...body.map((cells) => `| ${cells.join(' | ')} |`),
  ];

  const md = [
    `# Experiment: ${ctx.experiment.title} (\`${ctx.experiment.name}\`)`,
    '',
    ctx.experiment.question,
    '',
    ctx.settingsLine,
    '',
    '## Variants',
    '',
    ...mdTable(SUMMARY_HEADER, variants.map(summaryCells), 2),
    '',
    STATS_NOTE,
    '',
    ...(comparisons.length ? [`## Compared with ${baselineLabel}`, '', ...mdTable(COMPARISON_HEADER, comparisons.map(comparisonCells), 1), '',
      ...comparisons.map((c) => `- ${c.verdict}`), ''] : []),
    ...(trained.length ? [`![Validation loss${bands}](${REPORT_FILES.valLoss})`, '', `![Validation accuracy${bands}](${REPORT_FILES.valAcc})`, ''] : []),
    '## Runs',
    '',
    ...mdTable(TABLE_HEADER, rows.map(tableCells), 3),
    '',
    ...(norms.length ? ['## Gradient norms per layer', '', 'L2 norm of the loss gradient of each layer at the final weights, on one training batch of 64 images (input layer first).', '',
      ...norms.flatMap((r) => [`**${r.label}**${ctx.seeds.length > 1 ? `, seed ${r.seed}` : ''}: ${r.gradientNorms!.map((g) => `${g.layer} ${g.norm.toExponential(3)}`).join(', ')}`, '']),
    ] : []),
    ...(notes.length ? ['## Notes', '', ...notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');

  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const htmlTable = (header: string[], body: string[][], textColumns: number) => `<table><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${body.map((cells) => `<tr>${cells.map((c, i) => `<td${isText(header, i, textColumns) ? '' : ' class="n"'}>${esc(c)}</td>`).join('')}</tr>`).join('\n')}
</tbody></table>`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(ctx.experiment.title)} — onnxtrain experiment</title>
<style>body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:4px 10px}td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f3f3f3}img{max-width:100%}code{background:#f3f3f3;padding:0 3px}</style></head><body>
<h1>Experiment: ${esc(ctx.experiment.title)} (<code>${esc(ctx.experiment.name)}</code>)</h1>
<p>${esc(ctx.experiment.question)}</p>
<p>${esc(ctx.settingsLine)}</p>
<h2>Variants</h2>
${htmlTable(SUMMARY_HEADER, variants.map(summaryCells), 2)}
<p>${esc(STATS_NOTE)}</p>
${comparisons.length ? `<h2>Compared with ${esc(baselineLabel)}</h2>
${htmlTable(COMPARISON_HEADER, comparisons.map(comparisonCells), 1)}
<ul>${comparisons.map((c) => `<li>${esc(c.verdict)}</li>`).join('')}</ul>` : ''}
${trained.length ? `<p><img src="${REPORT_FILES.valLoss}" alt="Validation loss${bands}"></p><p><img src="${REPORT_FILES.valAcc}" alt="Validation accuracy${bands}"></p>` : ''}
<h2>Runs</h2>
${htmlTable(TABLE_HEADER, rows.map(tableCells), 3)}
${norms.length ? `<h2>Gradient norms per layer</h2><p>L2 norm of the loss gradient of each layer at the final weights, on one training batch of 64 images (input layer first).</p>
<table><thead><tr><th>Variant</th><th>Seed</th><th>Layer</th><th>Gradient norm</th></tr></thead><tbody>
${norms.flatMap((r) => r.gradientNorms!.map((g) => `<tr><td>${esc(r.label)}</td><td class="n">${r.seed}</td><td>${esc(g.layer)}</td><td class="n">${g.norm.toExponential(3)}</td></tr>`)).join('\n')}
</tbody></table>` : ''}
${notes.length ? `<h2>Notes</h2><ul>${notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
</body></html>
`;
  await writeFileAtomic(join(dir, REPORT_FILES.md), md);
  await writeFileAtomic(join(dir, REPORT_FILES.html), html);
  await writeJsonAtomic(join(dir, REPORT_FILES.json), {
    experiment: ctx.experiment.name, seeds: ctx.seeds, baseline: ctx.baseline, variants, comparisons, rows: rows.map(({ history: _h, ...r }) => r),
  });
  written.push(join(dir, REPORT_FILES.md), join(dir, REPORT_FILES.html), join(dir, REPORT_FILES.json));
  return written;
}
