/** Training curves as PNG: one run's loss and accuracy (curves.png), and several runs overlaid (experiments). */
import { linePanel } from './chart.js';
import type { Series } from './chart.js';
import type { EpochMetrics } from './metrics.js';
import { PALETTE, svgDocument, svgText, svgToPng } from './svg.js';

export interface CurvesSettings {
  /** Image width in pixels. Default 1200. */
  width?: number;
  /** Image height in pixels. Default 450 (with a title: 480). */
  height?: number;
  /** Line above both panels, e.g. the model name. Default none. */
  title?: string;
}

export interface OverlaySettings {
  /** Default 900. */
  width?: number;
  /** Default 520. */
  height?: number;
  /** Default: "<metric label> by epoch". */
  title?: string;
}

export interface OverlayRun {
  label: string;
  history: readonly EpochMetrics[];
}

export type Metric = 'trainLoss' | 'trainAcc' | 'valLoss' | 'valAcc' | 'seconds' | 'lr';

export const METRIC_LABELS: Record<Metric, string> = {
  trainLoss: 'Train loss',
  trainAcc: 'Train accuracy',
  valLoss: 'Validation loss',
  valAcc: 'Validation accuracy',
  seconds: 'Seconds per epoch',
  lr: 'Learning rate',
};

const PERCENT_METRICS: ReadonlySet<Metric> = new Set(['trainAcc', 'valAcc']);

/**
 * The reference notebook's figure as SVG: loss (left) and accuracy in percent (right), each with train
 * and validation lines against the epoch.
 */
export function curvesSvg(history: readonly EpochMetrics[], settings: CurvesSettings = {}): string {
  if (history.length === 0) throw new Error('renderCurves: the history is empty; train at least one epoch first');
  const width = settings.width ?? 1200;
  const top = settings.title ? 30 : 0;
  const height = settings.height ?? 450 + top;
  const panelW = width / 2;
  const series = (field: Metric, scale: number): [Series, Series] => [
    { label: 'Train', color: PALETTE[0], points: history.map((m) => [m.epoch, (m[field] ?? NaN) * scale] as const) },
    { label: 'Validation', color: PALETTE[1], points: history.map((m) => [m.epoch, (m[valField(field)] ?? NaN) * scale] as const) },
  ];
  const body = [
    settings.title ? svgText(width / 2, 24, settings.title, { size: 17, anchor: 'middle', weight: 'bold' }) : '',
    linePanel({
      x: 0, y: top, width: panelW, height: height - top, series: series('trainLoss', 1),
      title: 'Training and Validation Loss', xLabel: 'Epoch', yLabel: 'Loss', integerX: true,
    }),
    linePanel({
      x: panelW, y: top, width: panelW, height: height - top, series: series('trainAcc', 100),
      title: 'Training and Validation Accuracy', xLabel: 'Epoch', yLabel: 'Accuracy (%)', integerX: true, yUnit: '%',
    }),
  ];
  return svgDocument(width, height, body.join(''));
}

/** curves.png: see curvesSvg. */
export async function renderCurves(history: readonly EpochMetrics[], settings: CurvesSettings = {}): Promise<Buffer> {
  return svgToPng(curvesSvg(history, settings));
}

/**
 * Several runs' `metric` against the epoch in one chart, one colour per run (tab10; after ten runs the
 * colours repeat dashed), with a legend of the run labels.
 */
export function overlaySvg(runs: readonly OverlayRun[], metric: Metric, settings: OverlaySettings = {}): string {
  if (runs.length === 0) throw new Error('renderOverlay: no runs given; pass at least one { label, history }');
  if (!(metric in METRIC_LABELS)) {
    throw new Error(`renderOverlay: unknown metric "${metric}"; use one of ${Object.keys(METRIC_LABELS).join(', ')}`);
  }
  const width = settings.width ?? 900;
  const height = settings.height ?? 520;
  const percent = PERCENT_METRICS.has(metric);
  const scale = percent ? 100 : 1;
  const series: Series[] = runs.map((run, i) => ({
    label: run.label,
    color: PALETTE[i % PALETTE.length],
    dashed: i >= PALETTE.length,
    points: run.history.map((m) => [m.epoch, (m[metric] ?? NaN) * scale] as const),
  }));
  const label = METRIC_LABELS[metric];
  const body = linePanel({
    x: 0, y: 0, width, height, series,
    title: settings.title ?? `${label} by epoch`, xLabel: 'Epoch', yLabel: percent ? `${label} (%)` : label,
    integerX: true, yUnit: percent ? '%' : '',
  });
  return svgDocument(width, height, body);
}

/** An experiment's comparison chart as PNG: see overlaySvg. */
export async function renderOverlay(runs: readonly OverlayRun[], metric: Metric, settings: OverlaySettings = {}): Promise<Buffer> {
  return svgToPng(overlaySvg(runs, metric, settings));
}

function valField(train: Metric): Metric {
  return train === 'trainLoss' ? 'valLoss' : 'valAcc';
}
