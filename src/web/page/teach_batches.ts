/**
 * Which rows make up each fine-tuning step: the user's examples mixed with replay images. A pure function
 * of (counts, batch size, seed, step), so the page and a Node check build the same batches.
 */
import { Rng } from '../../data/rng.js';
import { imageToInput, type PixelSettings } from '../../predict/pixels.js';

/** One example the user added: the model input as the page preprocessed it, and its class. */
export interface TeachExample {
  pixels: Float32Array;
  label: number;
}

export interface BatchRows {
  /** Indices into the user's examples, first in the batch. */
  examples: number[];
  /** Indices into the replay images, after them. */
  replay: number[];
}

/**
 * Rows of optimizer step `step` (counted from the exported weights). Up to half the batch are the user's
 * examples (all of them while they fit), the rest replay images; each list is walked in a seeded
 * permutation, continuing where the previous step stopped.
 */
export function batchRows(examples: number, replay: number, batchSize: number, seed: number, step: number): BatchRows {
  if (examples === 0) throw new Error('no examples to learn from: add at least one example first');
  const own = Math.min(examples, replay > 0 ? Math.max(1, Math.floor(batchSize / 2)) : batchSize);
  const rest = Math.min(batchSize - own, replay);
  const ePerm = Rng.fromSeed(seed, `teach-examples-${examples}`).permutation(examples);
  const rPerm = Rng.fromSeed(seed, 'teach-replay').permutation(Math.max(replay, 1));
  return {
    examples: Array.from({ length: own }, (_, j) => ePerm[(step * own + j) % examples]),
    replay: Array.from({ length: rest }, (_, j) => rPerm[(step * rest + j) % replay]),
  };
}

/** Replay images as model inputs, through the same preprocessing as every other image (pixels.ts). */
export function replayInputs(bytes: Uint8Array, count: number, settings: PixelSettings): { inputs: Float32Array[]; labels: Uint8Array } {
  const [c, h, w] = settings.inputShape;
  const per = c * h * w;
  if (bytes.length !== count * (per + 1)) throw new Error(`replay file has ${bytes.length} bytes, expected ${count * (per + 1)} for ${count} images of ${c}x${h}x${w}; re-run export-web --trainable`);
  const inputs: Float32Array[] = [];
  const rgba = new Uint8Array(h * w * 4);
  for (let i = 0; i < count; i++) {
    const img = bytes.subarray(i * per, (i + 1) * per);
    for (let p = 0; p < h * w; p++) {
      for (let k = 0; k < 3; k++) rgba[p * 4 + k] = img[(c === 1 ? 0 : k) * h * w + p];
      rgba[p * 4 + 3] = 255;
    }
    inputs.push(imageToInput({ width: w, height: h, data: rgba }, { ...settings, invert: false }));
  }
  return { inputs, labels: bytes.slice(count * per) };
}

/** The batch of `rows` as one [B, C, H, W] input and [B] labels. */
export function batchTensors(rows: BatchRows, examples: TeachExample[], replay: { inputs: Float32Array[]; labels: Uint8Array }): { input: Float32Array; labels: BigInt64Array; size: number } {
  const rowsIn = [...rows.examples.map((i) => examples[i].pixels), ...rows.replay.map((i) => replay.inputs[i])];
  const labels = BigInt64Array.from([...rows.examples.map((i) => BigInt(examples[i].label)), ...rows.replay.map((i) => BigInt(replay.labels[i]))]);
  const per = rowsIn[0].length;
  const input = new Float32Array(rowsIn.length * per);
  rowsIn.forEach((r, i) => input.set(r, i * per));
  return { input, labels, size: rowsIn.length };
}
