/** A one-line progress bar for the steps of an epoch, redrawn in place on a terminal. */
import { formatFixed, formatThousands } from '../util/format.js';

/** The part of a stream the bar uses (process.stderr / process.stdout satisfy it). */
export interface ProgressStream {
  isTTY?: boolean;
  /** Terminal width; the line is cut to fit. */
  columns?: number;
  write(chunk: string): unknown;
}

export interface ProgressSettings {
  /** Steps (batches) in the epoch. Required, a positive integer. */
  total: number;
  /** Text before the bar, e.g. 'Epoch 3/20'. Default ''. */
  label?: string;
  /** Where to draw. Default process.stderr. Nothing is written unless `stream.isTTY` is true. */
  stream?: ProgressStream;
  /** Characters inside the brackets. Default 25. */
  barWidth?: number;
  /** Least time between redraws, ms. Default 100 (at most ~10 redraws a second). */
  minIntervalMs?: number;
  /** Clock in ms. Default performance.now. */
  now?: () => number;
  /**
   * Progress already made before this bar started (a resumed epoch): shown in the count, but left out of
   * samples/s and the ETA, which measure this session only (tqdm's `initial`). Default none.
   */
  initial?: { done: number; samples?: number };
}

/** Running figures shown beside the bar; each is optional. */
export interface ProgressStats {
  /** Samples processed so far in the epoch (gives samples/s). */
  samples?: number;
  /** Running mean loss. */
  loss?: number;
  /** Running accuracy, a fraction 0..1. */
  acc?: number;
}

export class ProgressBar {
  /** False when the stream is not a terminal: every call is then a no-op. */
  readonly enabled: boolean;
  private readonly total: number;
  private readonly label: string;
  private readonly stream: ProgressStream;
  private readonly barWidth: number;
  private readonly minIntervalMs: number;
  private readonly now: () => number;
  private readonly start: number;
  private readonly startDone: number;
  private readonly startSamples: number;
  private lastDraw = -Infinity;
  private done = 0;
  private stats: ProgressStats = {};
  private finished = false;

  constructor(settings: ProgressSettings) {
    if (!Number.isInteger(settings.total) || settings.total < 1) {
      throw new Error(`ProgressBar: total must be a positive integer (steps in the epoch), got ${settings.total}`);
    }
    this.total = settings.total;
    this.label = settings.label ?? '';
    this.stream = settings.stream ?? process.stderr;
    this.barWidth = settings.barWidth ?? 25;
    this.minIntervalMs = settings.minIntervalMs ?? 100;
    this.now = settings.now ?? (() => performance.now());
    this.enabled = this.stream.isTTY === true;
    this.start = this.now();
    this.startDone = settings.initial?.done ?? 0;
    this.startSamples = settings.initial?.samples ?? 0;
    if (!Number.isInteger(this.startDone) || this.startDone < 0 || this.startDone > this.total) {
      throw new Error(`ProgressBar: initial.done must be an integer in 0..${this.total}, got ${this.startDone}`);
    }
    this.done = this.startDone;
  }

  /** Record that `done` steps are complete; redraws unless the last redraw was under minIntervalMs ago. */
  update(done: number, stats: ProgressStats = {}): void {
    if (!Number.isInteger(done) || done < 0 || done > this.total) {
      throw new Error(`ProgressBar: done must be an integer in 0..${this.total}, got ${done}`);
    }
    this.done = done;
    this.stats = { ...this.stats, ...stats };
    if (!this.enabled || this.finished) return;
    const t = this.now();
    if (t - this.lastDraw < this.minIntervalMs && done < this.total) return;
    this.lastDraw = t;
    this.draw(t);
  }

  /** Erase the bar so that a line can be printed; the next update draws it again below that line. */
  clearLine(): void {
    if (!this.enabled || this.finished) return;
    this.stream.write('\r\x1b[K');
    this.lastDraw = -Infinity;
  }

  /** Draw the final state and end the line; with `clear`, erase the bar instead (so a summary line can replace it). */
  finish(options: { clear?: boolean } = {}): void {
    if (!this.enabled || this.finished) return;
    this.finished = true;
    if (options.clear) {
      this.stream.write('\r\x1b[K');
    } else {
      this.draw(this.now());
      this.stream.write('\n');
    }
  }

  /** The line as it would be drawn at time `t` (ms, same clock as settings.now). */
  render(t: number): string {
    const fraction = this.done / this.total;
    const filled = Math.round(fraction * this.barWidth);
    const bar = '='.repeat(Math.max(0, filled - (filled < this.barWidth ? 1 : 0)))
      + (filled > 0 && filled < this.barWidth ? '>' : '')
      + ' '.repeat(this.barWidth - filled);
    const elapsed = (t - this.start) / 1000;
    const parts = [
      `${this.label ? this.label + ' ' : ''}[${bar}] ${String(this.done).padStart(String(this.total).length)}/${this.total}`,
    ];
    if (this.stats.samples !== undefined && elapsed > 0) parts.push(`${formatThousands((this.stats.samples - this.startSamples) / elapsed)} samples/s`);
    if (this.stats.loss !== undefined) parts.push(`loss ${formatFixed(this.stats.loss, 4)}`);
    if (this.stats.acc !== undefined) parts.push(`acc ${formatFixed(this.stats.acc * 100, 2)}%`);
    if (this.done >= this.total) parts.push(`${formatDuration(elapsed)}`);
    else if (this.done > this.startDone) parts.push(`ETA ${formatDuration((elapsed / (this.done - this.startDone)) * (this.total - this.done))}`);
    const line = parts.join(' | ');
    const max = (this.stream.columns ?? 0) > 1 ? this.stream.columns! - 1 : Infinity;
    return line.length > max ? line.slice(0, max) : line;
  }

  private draw(t: number): void {
    this.stream.write('\r' + this.render(t) + '\x1b[K');
  }
}

/** Seconds as m:ss, or h:mm:ss from an hour up. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
