import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseRunConfig, type RunConfig } from './run_config.js';

export interface RunFiles {
  /** The run folder. */
  dir: string;
  modelPath: string;
  configPath: string;
  config: RunConfig;
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isFile(), () => false);
}

/**
 * Locate and read a run: a folder holding model.onnx and config.json, or the path of a .onnx file with a
 * config.json beside it.
 */
export async function loadRun(run: string): Promise<RunFiles> {
  const info = await stat(run).catch(() => undefined);
  if (!info) throw new Error(`run '${run}' does not exist; give a training run folder (holding model.onnx and config.json)`);
  const dir = info.isDirectory() ? path.resolve(run) : path.dirname(path.resolve(run));
  const modelPath = info.isDirectory() ? path.join(dir, 'model.onnx') : path.resolve(run);
  const configPath = path.join(dir, 'config.json');
  if (!(await isFile(modelPath))) throw new Error(`run '${run}' has no model.onnx; train first or give the run folder that holds it`);
  if (!(await isFile(configPath))) throw new Error(`run '${run}' has no config.json beside ${path.basename(modelPath)}; it records class names and normalisation`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (e) {
    throw new Error(`${configPath} is not valid JSON (${(e as Error).message}); restore the file written by training`);
  }
  return { dir, modelPath, configPath, config: parseRunConfig(parsed, configPath) };
}
