/** A line-chart panel in SVG: axes with nice ticks, grid, axis labels, title, series and a legend. */
import { fmt, svgText, textWidth } from './svg.js';

export interface Series {
  label: string;
  color: string;
  /** [x, y] pairs in data units; a non-finite y breaks the line there (a diverged epoch shows as a gap). */
  points: ReadonlyArray<readonly [number, number]>;
  /** Draw dashed (used once the palette runs out, so series stay distinguishable). Default false. */
  dashed?: boolean;
  /** [x, low, high]: a shaded band under the line (e.g. the spread over seeds). Default none. */
  band?: ReadonlyArray<readonly [number, number, number]>;
}

export interface PanelSettings {
  /** Panel box in SVG units, including room for tick labels, axis labels and title. */
  x: number;
  y: number;
  width: number;
  height: number;
  series: readonly Series[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Only integer x ticks (epochs). Default false. */
  integerX?: boolean;
  /** Suffix after y tick labels, e.g. '%'. Default ''. */
  yUnit?: string;
  /** Circle markers at each point; default: when no series has more than 40 points. */
  markers?: boolean;
  /** Draw the legend. Default true. */
  legend?: boolean;
}

const MARGIN = { left: 68, right: 16, top: 34, bottom: 48 };
const TICK_FONT = 12;
const LABEL_FONT = 13;
const TITLE_FONT = 15;
const LEGEND_FONT = 12;

/** Tick positions at 1, 2, 2.5 or 5 times a power of ten, about `target` of them, covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, target = 6, integer = false): { ticks: number[]; step: number } {
  if (!(hi > lo)) throw new Error(`niceTicks: need lo < hi, got [${lo}, ${hi}]`);
  const raw = (hi - lo) / Math.max(1, target - 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const candidates = integer ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10];
  let step = candidates.map((c) => c * power).find((s) => s >= raw) ?? 10 * power;
  if (integer) step = Math.max(1, Math.round(step));
  const ticks: number[] = [];
  const first = Math.ceil(lo / step - 1e-9);
  for (let i = first; i * step <= hi + step * 1e-9; i++) ticks.push(cleanFloat(i * step));
  return { ticks, step };
}

/** Decimals needed to print multiples of `step` without noise (0.25 -> 2, 5 -> 0, 0.001 -> 3). */
export function stepDecimals(step: number): number {
  for (let d = 0; d < 12; d++) {
    if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-6) return d;
  }
  return 12;
}

/** The data range of the finite values, padded by 5% each side like matplotlib's default margins. */
export function paddedRange(values: readonly number[], pad = 0.05): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (hi === lo) {
    const half = lo === 0 ? 0.5 : Math.abs(lo) * 0.05;
    return [lo - half, hi + half];
  }
  const margin = (hi - lo) * pad;
  lo -= margin;
  hi += margin;
  return [lo, hi];
}

export function linePanel(s: PanelSettings): string {
  const plot = {
    left: s.x + MARGIN.left,
    top: s.y + MARGIN.top,
    width: s.width - MARGIN.left - MARGIN.right,
    height: s.height - MARGIN.top - MARGIN.bottom,
  };
  if (plot.width < 40 || plot.height < 40) throw new Error(`chart panel ${s.width}x${s.height} is too small: use at least ${MARGIN.left + MARGIN.right + 40}x${MARGIN.top + MARGIN.bottom + 40}`);
  const xs = s.series.flatMap((ser) => ser.points.map((p) => p[0]));
  const ys = s.series.flatMap((ser) => [...ser.points.map((p) => p[1]), ...(ser.band ?? []).flatMap((b) => [b[1], b[2]])]);
  let [x0, x1] = paddedRange(xs, 0.03);
  if (s.integerX && xs.length > 0 && Math.min(...xs) === Math.max(...xs)) [x0, x1] = [xs[0] - 1, xs[0] + 1];
  const [y0, y1] = paddedRange(ys);
  const px = (v: number): number => plot.left + ((v - x0) / (x1 - x0)) * plot.width;
  const py = (v: number): number => plot.top + plot.height - ((v - y0) / (y1 - y0)) * plot.height;

  const parts: string[] = [];
  const xt = niceTicks(x0, x1, Math.max(2, Math.min(11, Math.floor(plot.width / 60))), s.integerX);
  const yt = niceTicks(y0, y1, Math.max(2, Math.min(9, Math.floor(plot.height / 45))));
  const xDec = stepDecimals(xt.step);
  const yDec = stepDecimals(yt.step);
  const bottom = plot.top + plot.height;

  for (const t of yt.ticks) {
    const y = py(t);
    parts.push(`<line x1="${fmt(plot.left)}" y1="${fmt(y)}" x2="${fmt(plot.left + plot.width)}" y2="${fmt(y)}" stroke="#e6e6e6" stroke-width="1"/>`);
    parts.push(`<line x1="${fmt(plot.left - 5)}" y1="${fmt(y)}" x2="${fmt(plot.left)}" y2="${fmt(y)}" stroke="#333" stroke-width="1"/>`);
    parts.push(svgText(plot.left - 8, y, t.toFixed(yDec) + (s.yUnit ?? ''), { size: TICK_FONT, anchor: 'end', middle: true }));
  }
  for (const t of xt.ticks) {
    const x = px(t);
    parts.push(`<line x1="${fmt(x)}" y1="${fmt(plot.top)}" x2="${fmt(x)}" y2="${fmt(bottom)}" stroke="#e6e6e6" stroke-width="1"/>`);
    parts.push(`<line x1="${fmt(x)}" y1="${fmt(bottom)}" x2="${fmt(x)}" y2="${fmt(bottom + 5)}" stroke="#333" stroke-width="1"/>`);
    parts.push(svgText(x, bottom + 19, t.toFixed(xDec), { size: TICK_FONT, anchor: 'middle' }));
  }
  parts.push(`<rect x="${fmt(plot.left)}" y="${fmt(plot.top)}" width="${fmt(plot.width)}" height="${fmt(plot.height)}" fill="none" stroke="#333" stroke-width="1"/>`);

  const clipId = `clip${Math.round(s.x)}_${Math.round(s.y)}`;
  parts.push(`<clipPath id="${clipId}"><rect x="${fmt(plot.left)}" y="${fmt(plot.top)}" width="${fmt(plot.width)}" height="${fmt(plot.height)}"/></clipPath>`);
  const markers = s.markers ?? s.series.every((ser) => ser.points.length <= 40);
  const lines: string[] = [];
  for (const ser of s.series) {
    const band = (ser.band ?? []).filter((b) => b.every(Number.isFinite));
    if (band.length > 1) {
      const edge = [...band.map((b) => [b[0], b[2]]), ...band.reverse().map((b) => [b[0], b[1]])];
      lines.push(`<path d="${edge.map((p, i) => `${i === 0 ? 'M' : 'L'}${fmt(px(p[0]))} ${fmt(py(p[1]))}`).join(' ')} Z" fill="${ser.color}" fill-opacity="0.18" stroke="none"/>`);
    }
  }
  for (const ser of s.series) {
    const dash = ser.dashed ? ' stroke-dasharray="7 4"' : '';
    for (const run of finiteRuns(ser.points)) {
      if (run.length > 1) {
        const d = run.map((p, i) => `${i === 0 ? 'M' : 'L'}${fmt(px(p[0]))} ${fmt(py(p[1]))}`).join(' ');
        lines.push(`<path d="${d}" fill="none" stroke="${ser.color}" stroke-width="2" stroke-linejoin="round"${dash}/>`);
      }
      if (markers || run.length === 1) {
        for (const p of run) lines.push(`<circle cx="${fmt(px(p[0]))}" cy="${fmt(py(p[1]))}" r="3" fill="${ser.color}"/>`);
      }
    }
  }
  parts.push(`<g clip-path="url(#${clipId})">${lines.join('')}</g>`);

  if (s.title) parts.push(svgText(plot.left + plot.width / 2, s.y + 22, s.title, { size: TITLE_FONT, anchor: 'middle', weight: 'bold' }));
  if (s.xLabel) parts.push(svgText(plot.left + plot.width / 2, s.y + s.height - 8, s.xLabel, { size: LABEL_FONT, anchor: 'middle' }));
  if (s.yLabel) parts.push(svgText(s.x + 16, plot.top + plot.height / 2, s.yLabel, { size: LABEL_FONT, anchor: 'middle', rotate: -90 }));

  if ((s.legend ?? true) && s.series.length > 0) {
    const pixels = s.series.flatMap((ser) => samplePath(ser.points).map(([x, y]) => [px(x), py(y)] as const));
    parts.push(legend(s.series, plot, pixels));
  }
  return parts.join('');
}

/** Consecutive points with finite coordinates; a NaN or infinity ends one run and starts the next. */
function finiteRuns(points: ReadonlyArray<readonly [number, number]>): Array<Array<readonly [number, number]>> {
  const runs: Array<Array<readonly [number, number]>> = [[]];
  for (const p of points) {
    if (Number.isFinite(p[0]) && Number.isFinite(p[1])) runs[runs.length - 1].push(p);
    else if (runs[runs.length - 1].length > 0) runs.push([]);
  }
  return runs.filter((r) => r.length > 0);
}

/** The points plus 8 evenly spaced samples along each segment, to tell where the lines pass. */
function samplePath(points: ReadonlyArray<readonly [number, number]>): Array<readonly [number, number]> {
  const out: Array<readonly [number, number]> = [];
  for (const run of finiteRuns(points)) {
    for (let i = 0; i < run.length; i++) {
      out.push(run[i]);
      if (i + 1 < run.length) {
        for (let k = 1; k < 9; k++) {
          const t = k / 9;
          out.push([run[i][0] + (run[i + 1][0] - run[i][0]) * t, run[i][1] + (run[i + 1][1] - run[i][1]) * t]);
        }
      }
    }
  }
  return out;
}

/**
 * Legend box in the corner of the plot area that covers the fewest line samples (matplotlib's
 * loc='best', tried in its order: upper right, upper left, lower left, lower right).
 */
function legend(
  series: readonly Series[],
  plot: { left: number; top: number; width: number; height: number },
  pixels: ReadonlyArray<readonly [number, number]>,
): string {
  const rowH = LEGEND_FONT + 8;
  const w = 42 + Math.max(...series.map((ser) => textWidth(ser.label, LEGEND_FONT)));
  const h = series.length * rowH + 8;
  const pad = 8;
  const corners: Array<[number, number]> = [
    [plot.left + plot.width - w - pad, plot.top + pad],
    [plot.left + pad, plot.top + pad],
    [plot.left + pad, plot.top + plot.height - h - pad],
    [plot.left + plot.width - w - pad, plot.top + plot.height - h - pad],
  ];
  let best = corners[0];
  let bestCount = Infinity;
  for (const c of corners) {
    const count = pixels.filter(([x, y]) => x >= c[0] && x <= c[0] + w && y >= c[1] && y <= c[1] + h).length;
    if (count < bestCount) { best = c; bestCount = count; }
  }
  const [lx, ly] = best;
  const parts = [`<rect x="${fmt(lx)}" y="${fmt(ly)}" width="${fmt(w)}" height="${fmt(h)}" rx="3" fill="#ffffff" fill-opacity="0.85" stroke="#cccccc"/>`];
  series.forEach((ser, i) => {
    const cy = ly + 4 + rowH * i + rowH / 2;
    const dash = ser.dashed ? ' stroke-dasharray="7 4"' : '';
    parts.push(`<line x1="${fmt(lx + 8)}" y1="${fmt(cy)}" x2="${fmt(lx + 32)}" y2="${fmt(cy)}" stroke="${ser.color}" stroke-width="2"${dash}/>`);
    parts.push(svgText(lx + 38, cy, ser.label, { size: LEGEND_FONT, middle: true }));
  });
  return `<g class="legend">${parts.join('')}</g>`;
}

function cleanFloat(v: number): number {
  return Number(v.toPrecision(12));
}
