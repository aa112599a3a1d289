/**
 * Decoding and preprocessing of image files, in a Web Worker so that a 40-megapixel photo does not freeze
 * the page: decode.ts decodes (createImageBitmap and an OffscreenCanvas work in workers), pixels.ts makes
 * the model input (the code Node's predict runs), and only the small input and preview come back.
 * Messages in: PrepRequest; out: PrepReply, with the request's id.
 */
import { fileInput, type Frame, type PixelSettings } from '../../predict/pixels.js';
import { decodeBlob } from './decode.js';

export interface PrepRequest {
  id: number;
  blob: Blob;
  name: string;
  /** Everything but invert, which is `invert` here: 'auto' inverts an image on a light background. */
  settings: PixelSettings;
  invert: boolean | 'auto';
  /** Side in pixels of the preview to send back (0: none). */
  preview: number;
}

export type PrepReply =
  | { type: 'input'; id: number; input: Float32Array; frame: Frame; inverted: boolean; preview?: ImageBitmap }
  | { type: 'error'; id: number; message: string };

interface WorkerScope {
  postMessage(m: PrepReply, transfer?: Transferable[]): void;
  addEventListener(type: 'message', f: (e: MessageEvent<PrepRequest>) => void): void;
}
const scope = self as unknown as WorkerScope;

scope.addEventListener('message', async (e) => {
  const { id, blob, name, settings, invert, preview: side } = e.data;
  try {
    const { image, preview } = await decodeBlob(blob, name, side);
    const { input, frame, inverted } = fileInput(image, settings, invert);
    scope.postMessage({ type: 'input', id, input, frame, inverted, ...(preview ? { preview } : {}) }, preview ? [input.buffer, preview] : [input.buffer]);
  } catch (err) {
    scope.postMessage({ type: 'error', id, message: (err as Error).message });
  }
});
