import { FITS, type Fit } from './pixels.js';

/**
 * The part of a run's config.json that prediction needs. Pure (no Node imports): the web page validates
 * its config.json with the same code.
 */
export interface RunConfig {
  /** Model name, for display. */
  model: string;
  /** [C, H, W] of one input; C is 1 (grey) or 3 (RGB). */
  inputShape: [number, number, number];
  /** One name per output class, in class-index order. */
  classNames: string[];
  /** Per-channel normalisation applied after scaling pixels to 0..1: (x - mean) / std. */
  normalization: { mean: number[]; std: number[] };
  /**
   * How images are framed (pixels.ts step 3) as the run's training images were: image-folder runs record
   * it; null or absent (runs on the built-in datasets) means pixels.ts defaultFit; absent in an image-folder
   * run (one older than the field) means 'stretch', as it trained (recordedFit).
   */
  fit?: Fit;
}

/**
 * The fit a run's config.json records: its "fit"; in an image-folder run without one (older than the field)
 * 'stretch', as its images were framed; else undefined (pixels.ts defaultFit). Not checked here.
 */
export function recordedFit(config: Record<string, unknown>): Fit | undefined {
  if (typeof config.dataFolder === 'string') return (config.fit as Fit | null | undefined) ?? 'stretch';
  return (config.fit as Fit | null | undefined) ?? undefined;
}

const isNumberArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** Check a parsed config.json; `source` names the file in error messages. */
export function parseRunConfig(value: unknown, source: string): RunConfig {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  if (typeof value !== 'object' || value === null) return fail('is not a JSON object');
  const v = value as Record<string, unknown>;
  const shape = v.inputShape;
  if (!isNumberArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    return fail(`"inputShape" must be [C, H, W] with positive integers, e.g. [1, 28, 28]; got ${JSON.stringify(shape)}`);
  }
  if (shape[0] !== 1 && shape[0] !== 3) fail(`"inputShape" [${shape}]: C must be 1 (grey) or 3 (RGB)`);
  const names = v.classNames;
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string')) {
    fail('"classNames" must be a non-empty array of strings, one per class');
  }
  const norm = v.normalization as Record<string, unknown> | undefined;
  if (typeof norm !== 'object' || norm === null) fail('"normalization" must be { "mean": [...], "std": [...] }');
  for (const key of ['mean', 'std'] as const) {
    const arr = norm![key];
    if (!isNumberArray(arr) || (arr.length !== 1 && arr.length !== shape[0])) {
      fail(`"normalization.${key}" must hold 1 or ${shape[0]} numbers (one per channel); got ${JSON.stringify(arr)}`);
    }
  }
  if ((norm!.std as number[]).some((s) => !(s > 0))) fail('"normalization.std" values must be positive');
  const fit = recordedFit(v);
  if (fit !== undefined && !FITS.includes(fit as Fit)) fail(`"fit" must be one of ${FITS.map((f) => `"${f}"`).join(', ')} (or null: the model's default); got ${JSON.stringify(fit)}`);
  return {
    model: typeof v.model === 'string' ? v.model : 'model',
    inputShape: [shape[0], shape[1], shape[2]],
    classNames: names as string[],
    normalization: { mean: [...(norm!.mean as number[])], std: [...(norm!.std as number[])] },
    ...(fit === undefined ? {} : { fit: fit as Fit }),
  };
}
