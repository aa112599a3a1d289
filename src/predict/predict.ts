import { readFile } from 'node:fs/promises';
import { INPUT, LOGITS, PROBABILITIES } from '../graph/names.js';
import type { Fit } from './pixels.js';
import { preprocess } from './preprocess.js';
import { loadRun } from './run_files.js';
import { topK, type TopClass } from './top_k.js';

export interface PredictSettings {
  /** Training run folder (model.onnx + config.json), or a model.onnx with config.json beside it. */
  run: string;
  /** Image paths, any format and size sharp reads. */
  images: string[];
  /**
   * Invert values (255 - v) before normalising, for dark-on-light photos. Default 'auto': each image whose
   * border is light (pixels.ts lightBackground), as the web page does.
   */
  invert?: boolean | 'auto';
  /**
   * 'object': crop to the object and centre it in the model's square frame, as Fashion-MNIST's images were
   * made; 'stretch': the whole image, stretched; 'crop': shorter side to the frame, centre cut out. Default:
   * the fit the run recorded (config.json "fit", image-folder runs), else pixels.ts defaultFit: 'object'
   * for grey models, 'stretch' for colour ones.
   */
  fit?: Fit;
  /** How many classes to list per image, most probable first. Default 3. */
  top?: number;
}

export interface Prediction {
  image: string;
  /** Softmax output of the model, one per class. */
  probabilities: number[];
  logits: number[];
  top: TopClass[];
  /** Whether the image was inverted (asked for, or 'auto' found a light background). */
  inverted: boolean;
  /** The fit used, and whether it cropped the image to its object. */
  fit: Fit;
  cropped: boolean;
}

/** Images per session run. */
const BATCH = 32;

/** Classify images with the run's eval model on onnxruntime-node (CPU). */
export async function predict(settings: PredictSettings): Promise<Prediction[]> {
  const { images, invert = 'auto', top = 3, fit } = settings;
  if (images.length === 0) throw new Error('predict: no images given; pass one or more image paths');
  if (!Number.isInteger(top) || top < 1) throw new Error(`predict: top must be a positive integer, got ${top}`);
  const run = await loadRun(settings.run);
  const { config } = run;
  const ort = await import('onnxruntime-node');
  let session: Awaited<ReturnType<typeof ort.InferenceSession.create>>;
  try {
    // Errors only: ort's warnings (e.g. unused initializers) are noise for a prediction.
    session = await ort.InferenceSession.create(await readFile(run.modelPath), { logSeverityLevel: 3 });
  } catch (e) {
    throw new Error(`${run.modelPath} failed to load in onnxruntime (${(e as Error).message}); re-export the model from its run`);
  }
  for (const out of [LOGITS, PROBABILITIES]) {
    if (!session.outputNames.includes(out)) throw new Error(`${run.modelPath} has no output '${out}' (outputs: ${session.outputNames.join(', ')}); it is not an onnxtrain eval model`);
  }
  const per = config.inputShape.reduce((a, b) => a * b, 1);
  const classes = config.classNames.length;
  const results: Prediction[] = [];
  try {
    for (let start = 0; start < images.length; start += BATCH) {
      const batch = images.slice(start, start + BATCH);
      const data = new Float32Array(batch.length * per);
      const inputs: Awaited<ReturnType<typeof preprocess>>[] = [];
      for (let i = 0; i < batch.length; i++) {
        const input = await preprocess(batch[i], { inputShape: config.inputShape, normalization: config.normalization, invert, fit: fit ?? config.fit });
        data.set(input.data, i * per);
        inputs.push(input);
      }
      let out: Record<string, { data: unknown; dims: readonly number[] }>;
      try {
        out = await session.run({ [INPUT]: new ort.Tensor('float32', data, [batch.length, ...config.inputShape]) });
      } catch (e) {
        throw new Error(`${run.modelPath} rejected input [N, ${config.inputShape}] from config.json (${(e as Error).message}); the config and model do not match`);
      }
      const probs = out[PROBABILITIES].data as Float32Array;
      const logits = out[LOGITS].data as Float32Array;
      if (probs.length !== batch.length * classes) {
        throw new Error(`${run.modelPath} gives ${probs.length / batch.length} probabilities per image but config.json names ${classes} classes`);
      }
      batch.forEach((image, i) => {
        const p = Array.from(probs.subarray(i * classes, (i + 1) * classes));
        results.push({
          image, probabilities: p, logits: Array.from(logits.subarray(i * classes, (i + 1) * classes)),
          top: topK(p, top, config.classNames),
          inverted: inputs[i].inverted, fit: inputs[i].fit, cropped: inputs[i].frame.cropped,
        });
      });
    }
  } finally {
    await session.release();
  }
  return results;
}
