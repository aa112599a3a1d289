/** Confusion matrix of a classifier: counts, accuracies, a text table and a PNG heatmap. */
import { formatFixed } from '../util/format.js';
import { escapeXml, fmt, svgDocument, svgText, svgToPng, textWidth } from './svg.js';

export interface ConfusionMatrix {
  numClasses: number;
  /** counts[actual][predicted]: rows are the true class, columns the predicted class (sklearn's layout). */
  counts: number[][];
  /** Number of samples counted. */
  total: number;
}

type Labels = ArrayLike<number> | BigInt64Array;

/** Count (actual, predicted) pairs. Labels are class indices 0..numClasses-1 (int64 labels are accepted). */
export function confusionMatrix(predicted: Labels, actual: Labels, numClasses: number): ConfusionMatrix {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`confusionMatrix: numClasses must be a positive integer, got ${numClasses}`);
  if (predicted.length !== actual.length) {
    throw new Error(`confusionMatrix: ${predicted.length} predictions but ${actual.length} labels; pass one prediction per label`);
  }
  const counts = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < actual.length; i++) {
    const a = Number(actual[i]);
    const p = Number(predicted[i]);
    for (const [what, v] of [['label', a], ['prediction', p]] as const) {
      if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
        throw new Error(`confusionMatrix: ${what} ${i} is ${v}, outside the classes 0..${numClasses - 1}`);
      }
    }
    counts[a][p]++;
  }
  return { numClasses, counts, total: actual.length };
}

/** Fraction of all samples on the diagonal (NaN when there are none). */
export function overallAccuracy(cm: ConfusionMatrix): number {
  let correct = 0;
  for (let c = 0; c < cm.numClasses; c++) correct += cm.counts[c][c];
  return cm.total === 0 ? NaN : correct / cm.total;
}

/** For each true class, the fraction of its samples predicted correctly (recall); NaN for a class with no samples. */
export function perClassAccuracy(cm: ConfusionMatrix): number[] {
  return cm.counts.map((row, c) => {
    const n = row.reduce((a, b) => a + b, 0);
    return n === 0 ? NaN : row[c] / n;
  });
}

/**
 * The matrix as an aligned text table (rows actual, columns predicted) with a per-class accuracy column,
 * followed by the overall accuracy.
 */
export function formatConfusion(cm: ConfusionMatrix, classNames: readonly string[]): string {
  checkNames(cm, classNames);
  const acc = perClassAccuracy(cm);
  const nameW = Math.max(6, ...classNames.map((n) => n.length));
  const colW = classNames.map((name, c) => Math.max(name.length, ...cm.counts.map((row) => String(row[c]).length)));
  const accCells = acc.map((a) => (Number.isNaN(a) ? '-' : `${formatFixed(a * 100, 2)}%`));
  const accW = Math.max('Accuracy'.length, ...accCells.map((s) => s.length));
  const lines = [
    'Confusion matrix (rows: actual class, columns: predicted class)',
    [' '.repeat(nameW), ...classNames.map((name, c) => name.padStart(colW[c])), '|', 'Accuracy'.padStart(accW)].join('  '),
  ];
  cm.counts.forEach((row, r) => {
    lines.push([classNames[r].padEnd(nameW), ...row.map((v, c) => String(v).padStart(colW[c])), '|', accCells[r].padStart(accW)].join('  '));
  });
  const correct = cm.counts.reduce((s, row, c) => s + row[c], 0);
  lines.push(`Overall accuracy: ${formatFixed(overallAccuracy(cm) * 100, 2)}% (${correct}/${cm.total})`);
  return lines.join('\n') + '\n';
}

export interface ConfusionPlotSettings {
  /** Image width in pixels. Default 760. */
  width?: number;
  /** Image height in pixels. Default 720. */
  height?: number;
  /** Default 'Confusion matrix'. */
  title?: string;
}

/**
 * Heatmap SVG: each cell shaded by the share of its row (so every class's recall reads on the same
 * scale however many samples it has), the count printed in the cell, class names on both axes.
 */
export function confusionSvg(cm: ConfusionMatrix, classNames: readonly string[], settings: ConfusionPlotSettings = {}): string {
  checkNames(cm, classNames);
  const width = settings.width ?? 760;
  const height = settings.height ?? 720;
  const n = cm.numClasses;
  const labelFont = 12;
  const labelW = Math.max(...classNames.map((name) => textWidth(name, labelFont)));
  const left = 36 + labelW + 10;
  const top = 44;
  const bottom = 36 + labelW * Math.SQRT1_2 + 20;
  const right = 90;
  const cell = Math.min((width - left - right) / n, (height - top - bottom) / n);
  if (!(cell >= 8)) throw new Error(`confusion plot ${width}x${height} is too small for ${n} classes: make it larger`);
  const gridW = cell * n;
  const countFont = Math.min(13, cell * 0.3);

  const parts: string[] = [];
  parts.push(svgText(left + gridW / 2, 28, settings.title ?? 'Confusion matrix', { size: 16, anchor: 'middle', weight: 'bold' }));
  cm.counts.forEach((row, r) => {
    const rowTotal = row.reduce((a, b) => a + b, 0);
    row.forEach((v, c) => {
      const share = rowTotal === 0 ? 0 : v / rowTotal;
      const x = left + c * cell;
      const y = top + r * cell;
      parts.push(`<rect x="${fmt(x)}" y="${fmt(y)}" width="${fmt(cell)}" height="${fmt(cell)}" fill="${blues(share)}"/>`);
      if (countFont >= 6) {
        parts.push(svgText(x + cell / 2, y + cell / 2, String(v), { size: countFont, anchor: 'middle', middle: true, color: share > 0.5 ? '#ffffff' : '#222222' }));
      }
    });
  });
  parts.push(`<rect x="${fmt(left)}" y="${fmt(top)}" width="${fmt(gridW)}" height="${fmt(gridW)}" fill="none" stroke="#333"/>`);
  classNames.forEach((name, i) => {
    parts.push(svgText(left - 8, top + (i + 0.5) * cell, name, { size: labelFont, anchor: 'end', middle: true }));
    const bx = left + (i + 0.5) * cell;
    const by = top + gridW + 10;
    parts.push(svgText(bx, by, name, { size: labelFont, anchor: 'end', rotate: -45, middle: true }));
  });
  parts.push(svgText(14, top + gridW / 2, 'Actual', { size: 13, anchor: 'middle', rotate: -90, weight: 'bold' }));
  parts.push(svgText(left + gridW / 2, top + gridW + 10 + labelW * Math.SQRT1_2 + 30, 'Predicted', { size: 13, anchor: 'middle', weight: 'bold' }));

  // Colour bar: share of the row, 0% at the bottom to 100% at the top.
  const barX = left + gridW + 24;
  const stops = Array.from({ length: 9 }, (_, k) => `<stop offset="${k / 8}" stop-color="${blues(1 - k / 8)}"/>`).join('');
  parts.push(`<defs><linearGradient id="bluesbar" x1="0" y1="0" x2="0" y2="1">${stops}</linearGradient></defs>`);
  parts.push(`<rect x="${fmt(barX)}" y="${fmt(top)}" width="16" height="${fmt(gridW)}" fill="url(#bluesbar)" stroke="#333"/>`);
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(svgText(barX + 22, top + gridW * (1 - t), `${t * 100}%`, { size: 11, middle: true }));
  }
  return svgDocument(width, height, `<g class="confusion" aria-label="${escapeXml(settings.title ?? 'Confusion matrix')}">${parts.join('')}</g>`);
}

/** The heatmap as PNG: see confusionSvg. */
export async function renderConfusion(cm: ConfusionMatrix, classNames: readonly string[], settings: ConfusionPlotSettings = {}): Promise<Buffer> {
  return svgToPng(confusionSvg(cm, classNames, settings));
}

/** matplotlib's 'Blues' colormap at t in [0, 1], linearly interpolated between its nine anchors. */
export function blues(t: number): string {
  const anchors = ['#f7fbff', '#deebf7', '#c6dbef', '#9ecae1', '#6baed6', '#4292c6', '#2171b5', '#08519c', '#08306b'];
  const x = Math.min(1, Math.max(0, t)) * (anchors.length - 1);
  const i = Math.min(anchors.length - 2, Math.floor(x));
  const f = x - i;
  const a = hexRgb(anchors[i]);
  const b = hexRgb(anchors[i + 1]);
  return '#' + a.map((v, k) => Math.round(v + (b[k] - v) * f).toString(16).padStart(2, '0')).join('');
}

function hexRgb(hex: string): number[] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

function checkNames(cm: ConfusionMatrix, classNames: readonly string[]): void {
  if (classNames.length !== cm.numClasses) {
    throw new Error(`${classNames.length} class names for ${cm.numClasses} classes; pass one name per class`);
  }
}
