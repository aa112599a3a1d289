import type * as Ort from 'onnxruntime-web';
import { INPUT } from '../../graph/names.js';
import type { PageConfig } from './page_config.js';

export type OrtModule = typeof Ort;
export type Backend = 'wasm' | 'webgpu';

export interface LoadedModel {
  ort: OrtModule;
  session: Ort.InferenceSession;
  /** Execution provider in use. */
  backend: Backend;
  /** Why the page runs on another backend than the one asked for, if it does. */
  note?: string;
  /** The model file as downloaded, and the runtime build loaded (absolute module URL, wasm binary): the trainer reuses them. */
  modelBytes: Uint8Array;
  runtime: { module: string; binary: Uint8Array };
}

/** What WebGPU the browser offers: a hardware adapter, only a software one (SwiftShader, llvmpipe), or none. */
export type GpuKind = 'hardware' | 'software' | 'none';

interface AdapterInfo {
  vendor?: string;
  architecture?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface GpuNavigator {
  gpu?: { requestAdapter(): Promise<{ info?: AdapterInfo; isFallbackAdapter?: boolean } | null> };
}

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|softpipe|software|basic render/i;

export async function gpuKind(): Promise<GpuKind> {
  const gpu = (navigator as GpuNavigator).gpu;
  const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
  if (!adapter) return 'none';
  const info = adapter.info ?? {};
  const named = [info.vendor, info.architecture, info.description].join(' ');
  return info.isFallbackAdapter || adapter.isFallbackAdapter || SOFTWARE_ADAPTER.test(named) ? 'software' : 'hardware';
}

export interface BackendChoice {
  backend: Backend;
  /** A line for the page when the choice differs from what `?backend=` asked for. */
  note?: string;
}

/**
 * The backend to load. `asked` is `?backend=` (null when absent): `wasm` is always honoured; `webgpu` is
 * honoured on any adapter, software ones included, and falls back to wasm without one; anything else is
 * refused with a note and the automatic choice applies. Automatically, only a hardware adapter gets WebGPU:
 * on a software adapter the WebGPU build (twice the download) runs slower than wasm.
 */
export function chooseBackend(asked: string | null, gpu: GpuKind): BackendChoice {
  if (asked === 'wasm') return { backend: 'wasm' };
  if (asked === 'webgpu') {
    return gpu === 'none'
      ? { backend: 'wasm', note: 'WebGPU was asked for (?backend=webgpu), but this browser offers no WebGPU adapter, so the model runs on WebAssembly (CPU).' }
      : { backend: 'webgpu' };
  }
  const auto: Backend = gpu === 'hardware' ? 'webgpu' : 'wasm';
  if (asked === null) return { backend: auto };
  return { backend: auto, note: `“?backend=${asked}” is not a backend this page has; use ?backend=wasm or ?backend=webgpu. Chose ${auto === 'webgpu' ? 'WebGPU' : 'WebAssembly (CPU)'} automatically.` };
}

/** Download a file, reporting each chunk's size (decompressed) as it arrives. */
async function download(url: string, what: string, onBytes: (n: number) => void): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new Error(`${what} (${url}) could not be downloaded: ${(e as Error).message}. Check the connection and reload.`);
  }
  if (!response.ok) throw new Error(`${what} (${url}) could not be downloaded: HTTP ${response.status}. Re-run export-web.`);
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onBytes(bytes.length);
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.length;
    onBytes(value.length);
  }
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

async function importRuntime(url: string): Promise<OrtModule> {
  try {
    return (await import(url)) as OrtModule;
  } catch (e) {
    throw new Error(`The onnxruntime-web runtime (${url}) failed to load: ${(e as Error).message}. Re-run export-web.`);
  }
}

/**
 * Load the chosen onnxruntime-web build and the model, downloading the wasm binary and the model in parallel
 * with `onProgress(fraction)`, open the session, and run it once on zeros so the first real image does not
 * pay for kernel set-up. A WebGPU session that fails to open falls back to wasm in the same build.
 */
export async function loadModel(config: PageConfig, choice: BackendChoice, onProgress: (fraction: number) => void): Promise<LoadedModel> {
  const build = config.runtime[choice.backend];
  const total = build.bytes + config.modelBytes;
  let received = 0;
  const progress = (n: number) => {
    received += n;
    onProgress(Math.min(1, received / total));
  };
  const [ort, binary, model] = await Promise.all([
    importRuntime(new URL(build.module, document.baseURI).href),
    download(build.binary, 'The onnxruntime-web runtime', progress),
    download(config.modelFile, 'The model', progress),
  ]);
  ort.env.wasm.wasmBinary = binary;
  // Threads need a cross-origin-isolated page (COOP/COEP headers), which static hosts rarely send.
  if (!globalThis.crossOriginIsolated) ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  let backend = choice.backend;
  let note = choice.note;
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(model, { executionProviders: [backend] });
  } catch (e) {
    if (backend !== 'webgpu') throw new Error(`The model failed to load (${(e as Error).message ?? e}). Export it again from a finished training run.`);
    try {
      session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'] });
    } catch {
      throw new Error(`The model failed to load (${(e as Error).message ?? e}). Export it again from a finished training run.`);
    }
    note = `WebGPU could not run this model (${(e as Error).message ?? e}), so it runs on WebAssembly (CPU).`;
    backend = 'wasm';
  }
  const shape = [1, ...config.inputShape];
  const warm = await session.run({ [INPUT]: new ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)), shape) });
  for (const t of Object.values(warm)) t.dispose();
  return { ort, session, backend, note, modelBytes: model, runtime: { module: new URL(build.module, document.baseURI).href, binary } };
}
