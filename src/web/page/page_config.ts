import { parseRunConfig, type RunConfig } from '../../predict/run_config.js';

/** One onnxruntime-web build: its ES module and the wasm binary that module loads. */
export interface RuntimeBuild {
  /** The entry module, relative to the page; its ort-wasm-*.mjs helper lies beside it. */
  module: string;
  /** The helper's .wasm binary, relative to the page; the page downloads it itself to show progress. */
  binary: string;
  /** Size of `binary` in bytes, uncompressed. */
  bytes: number;
}

/** config.json of an exported page: the run's config plus where the page finds its files. */
export interface PageConfig extends RunConfig {
  /** The model, relative to the page. */
  modelFile: string;
  /** Size of the model in bytes. */
  modelBytes: number;
  /** `wasm`: the CPU-only build every browser gets; `webgpu`: the larger build loaded only for a GPU. */
  runtime: { wasm: RuntimeBuild; webgpu: RuntimeBuild };
  /** Sample images, relative to the page. */
  samples: string[];
  /** The true class of each sample where its file name says it (`03-dress.png`), else null. */
  sampleLabels: (number | null)[];
  /** Accuracy on the test set (0..1), from the run's results.json, when it has one. */
  testAccuracy?: number;
  /** train/teach.json when the page can fine-tune the model (export-web --trainable). */
  teach?: string;
}

export function parsePageConfig(value: unknown, source: string): PageConfig {
  const run = parseRunConfig(value, source);
  const v = value as Record<string, unknown>;
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}; re-run export-web`);
  };
  const str = (o: Record<string, unknown>, key: string, where = key): string =>
    typeof o[key] === 'string' ? (o[key] as string) : fail(`"${where}" must be a path relative to the page`);
  const size = (o: Record<string, unknown>, key: string, where = key): number =>
    Number.isInteger(o[key]) && (o[key] as number) > 0 ? (o[key] as number) : fail(`"${where}" must be a size in bytes`);
  const runtime = (typeof v.runtime === 'object' && v.runtime !== null ? v.runtime : fail('"runtime" must list the wasm and webgpu builds')) as Record<string, unknown>;
  const build = (name: 'wasm' | 'webgpu'): RuntimeBuild => {
    const b = (typeof runtime[name] === 'object' && runtime[name] !== null ? runtime[name] : fail(`"runtime.${name}" is missing`)) as Record<string, unknown>;
    return { module: str(b, 'module', `runtime.${name}.module`), binary: str(b, 'binary', `runtime.${name}.binary`), bytes: size(b, 'bytes', `runtime.${name}.bytes`) };
  };
  const samples = Array.isArray(v.samples) ? v.samples.filter((s): s is string => typeof s === 'string') : [];
  const labels = Array.isArray(v.sampleLabels) ? v.sampleLabels : [];
  const sampleLabels = samples.map((_, i) => (Number.isInteger(labels[i]) && labels[i] >= 0 && labels[i] < run.classNames.length ? (labels[i] as number) : null));
  const acc = v.testAccuracy;
  return {
    ...run, modelFile: str(v, 'modelFile'), modelBytes: size(v, 'modelBytes'), runtime: { wasm: build('wasm'), webgpu: build('webgpu') }, samples, sampleLabels,
    ...(typeof acc === 'number' && acc >= 0 && acc <= 1 ? { testAccuracy: acc } : {}),
    ...(typeof v.teach === 'string' ? { teach: v.teach } : {}),
  };
}
