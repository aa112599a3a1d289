import type * as Ort from 'onnxruntime-web';

export type OrtModule = typeof Ort;

export interface LoadedModel {
  ort: OrtModule;
  session: Ort.InferenceSession;
  /** Execution provider in use: 'webgpu' or 'wasm'. */
  backend: string;
}

interface GpuNavigator {
  gpu?: { requestAdapter(): Promise<unknown> };
}

/** WebGPU first where the browser offers an adapter, wasm otherwise; `?backend=wasm|webgpu` forces one. */
async function backendsToTry(): Promise<string[]> {
  const forced = new URLSearchParams(location.search).get('backend');
  if (forced === 'wasm' || forced === 'webgpu') return [forced];
  const gpu = (navigator as GpuNavigator).gpu;
  const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
  return adapter ? ['webgpu', 'wasm'] : ['wasm'];
}

/** Load onnxruntime-web from the page's own folder and open the model on the best backend that works. */
export async function loadModel(runtimeUrl: string, modelUrl: string): Promise<LoadedModel> {
  let ort: OrtModule;
  try {
    ort = (await import(new URL(runtimeUrl, document.baseURI).href)) as OrtModule;
  } catch (e) {
    throw new Error(`The onnxruntime-web runtime (${runtimeUrl}) failed to load: ${(e as Error).message}. Re-run export-web.`);
  }
  const response = await fetch(modelUrl).catch((e: Error) => {
    throw new Error(`The model (${modelUrl}) could not be downloaded: ${e.message}.`);
  });
  if (!response.ok) throw new Error(`The model (${modelUrl}) could not be downloaded: HTTP ${response.status}.`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const failures: string[] = [];
  for (const backend of await backendsToTry()) {
    try {
      const session = await ort.InferenceSession.create(bytes, { executionProviders: [backend] });
      return { ort, session, backend };
    } catch (e) {
      failures.push(`${backend}: ${(e as Error).message ?? e}`);
    }
  }
  throw new Error(`The model failed to load (${failures.join('; ')}). Export it again from a finished training run.`);
}
