import { join } from 'node:path';

/** The files of a run folder (runs/<model>-<date>-<time>/): the written contract of a training run. */
export const RUN_FILES = {
  config: 'config.json',
  last: 'last.safetensors',
  best: 'best.safetensors',
  model: 'model.onnx',
  summary: 'summary.txt',
  curves: 'curves.png',
  results: 'results.json',
} as const;

export const runFile = (dir: string, f: keyof typeof RUN_FILES): string => join(dir, RUN_FILES[f]);

export function defaultRunDir(model: string, now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return join('runs', `${model}-${stamp}`);
}
