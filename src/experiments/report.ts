/** An experiment's comparison report: a table from each run's files, overlaid curves, report.md and report.html. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { renderOverlay, type Metric } from '../report/plot.js';
import { readMetrics, type EpochMetrics } from '../report/metrics.js';
import { readJson, writeFileAtomic, writeJsonAtomic } from '../util/fsx.js';
import type { Experiment } from './catalog.js';
import type { LayerNorm } from './gradnorms.js';

export interface ReportRow {
  variant: string;
  label: string;
  model: string;
  /** done: trained (or early-stopped); missing-data: its dataset is unavailable; diverged: the loss became NaN. */
  status: 'done' | 'missing-data' | 'diverged';
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
export async function readRunRow(dir: string, base: Pick<ReportRow, 'variant' | 'label' | 'model' | 'parameters' | 'status' | 'note'>): Promise<ReportRow> {
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

export const TABLE_HEADER = ['Variant', 'Model', 'Best val acc', 'Epoch of best', 'Final val acc', 'Test acc', 's/epoch', 'Epochs', 'Parameters'];

/** The table's cells for one row, as report.md and report.html print them. */
export function tableCells(r: ReportRow): string[] {
  const status = r.status === 'missing-data' ? ' (not run: data missing)' : r.status === 'diverged' ? ' (diverged)' : '';
  return [r.label + status, r.model, pct(r.bestValAcc), r.bestEpoch === null ? '–' : String(r.bestEpoch), pct(r.finalValAcc), pct(r.testAcc), secs(r.secondsPerEpoch), String(r.epochs), count(r.parameters)];
}

export interface ReportContext {
  experiment: Experiment;
  /** One line on how the runs were made (epochs, limit, seed). */
  settingsLine: string;
}

/** Writes report.md, report.html, report.json and the overlaid validation curves into `dir`. */
export async function writeReport(dir: string, rows: ReportRow[], ctx: ReportContext): Promise<string[]> {
  const trained = rows.filter((r) => r.history.length > 0);
  const charts: [Metric, string, string][] = [['valLoss', REPORT_FILES.valLoss, 'Validation loss'], ['valAcc', REPORT_FILES.valAcc, 'Validation accuracy']];
  const written: string[] = [];
  for (const [metric, file, title] of charts) {
    if (!trained.length) continue;
    await writeFileAtomic(join(dir, file), await renderOverlay(trained.map((r) => ({ label: r.label, history: r.history })), metric, { title: `${ctx.experiment.title}: ${title.toLowerCase()}` }));
    written.push(join(dir, file));
  }
  const notes = rows.filter((r) => r.note).map((r) => `${r.label}: ${r.note}`);
  const norms = rows.filter((r) => r.gradientNorms?.length);

  const md = [
    `# Experiment: ${ctx.experiment.title} (\`${ctx.experiment.name}\`)`,
    '',
    ctx.experiment.question,
    '',
    ctx.settingsLine,
    '',
    `| ${TABLE_HEADER.join(' | ')} |`,
    `|${TABLE_HEADER.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${tableCells(r).join(' | ')} |`),
    '',
    ...(trained.length ? [`![Validation loss](${REPORT_FILES.valLoss})`, '', `![Validation accuracy](${REPORT_FILES.valAcc})`, ''] : []),
    ...(norms.length ? ['## Gradient norms per layer', '', 'L2 norm of the loss gradient of each layer at the final weights, on one training batch of 64 images (input layer first).', '',
      ...norms.flatMap((r) => [`**${r.label}**: ${r.gradientNorms!.map((g) => `${g.layer} ${g.norm.toExponential(3)}`).join(', ')}`, '']),
    ] : []),
    ...(notes.length ? ['## Notes', '', ...notes.map((n) => `- ${n}`), ''] : []),
  ].join('\n');

  const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(ctx.experiment.title)} — onnxtrain experiment</title>
<style>body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:4px 10px}td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f3f3f3}img{max-width:100%}code{background:#f3f3f3;padding:0 3px}</style></head><body>
<h1>Experiment: ${esc(ctx.experiment.title)} (<code>${esc(ctx.experiment.name)}</code>)</h1>
<p>${esc(ctx.experiment.question)}</p>
<p>${esc(ctx.settingsLine)}</p>
<table><thead><tr>${TABLE_HEADER.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${rows.map((r) => `<tr>${tableCells(r).map((c, i) => `<td${i >= 2 ? ' class="n"' : ''}>${esc(c)}</td>`).join('')}</tr>`).join('\n')}
</tbody></table>
${trained.length ? `<p><img src="${REPORT_FILES.valLoss}" alt="Validation loss"></p><p><img src="${REPORT_FILES.valAcc}" alt="Validation accuracy"></p>` : ''}
${norms.length ? `<h2>Gradient norms per layer</h2><p>L2 norm of the loss gradient of each layer at the final weights, on one training batch of 64 images (input layer first).</p>
<table><thead><tr><th>Variant</th><th>Layer</th><th>Gradient norm</th></tr></thead><tbody>
${norms.flatMap((r) => r.gradientNorms!.map((g) => `<tr><td>${esc(r.label)}</td><td>${esc(g.layer)}</td><td class="n">${g.norm.toExponential(3)}</td></tr>`)).join('\n')}
</tbody></table>` : ''}
${notes.length ? `<h2>Notes</h2><ul>${notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
</body></html>
`;
  await writeFileAtomic(join(dir, REPORT_FILES.md), md);
  await writeFileAtomic(join(dir, REPORT_FILES.html), html);
  await writeJsonAtomic(join(dir, REPORT_FILES.json), { experiment: ctx.experiment.name, rows: rows.map(({ history: _h, ...r }) => r) });
  written.push(join(dir, REPORT_FILES.md), join(dir, REPORT_FILES.html), join(dir, REPORT_FILES.json));
  return written;
}
