import { parseRunConfig, type RunConfig } from '../../predict/run_config.js';

/** config.json of an exported page: the run's config plus where the page finds its files. */
export interface PageConfig extends RunConfig {
  /** The model, relative to the page. */
  modelFile: string;
  /** onnxruntime-web's ES module, relative to the page; its .wasm and helper .mjs lie beside it. */
  runtime: string;
  /** Sample images, relative to the page. */
  samples: string[];
}

export function parsePageConfig(value: unknown, source: string): PageConfig {
  const run = parseRunConfig(value, source);
  const v = value as Record<string, unknown>;
  const str = (key: string): string => {
    if (typeof v[key] !== 'string') throw new Error(`${source}: "${key}" must be a path relative to the page; re-run export-web`);
    return v[key] as string;
  };
  const samples = Array.isArray(v.samples) ? v.samples.filter((s): s is string => typeof s === 'string') : [];
  return { ...run, modelFile: str('modelFile'), runtime: str('runtime'), samples };
}
