/**
 * The page's trainer, in a Web Worker so the page stays responsive: it runs the run's own train_step.onnx
 * in onnxruntime-web, step by step, on batches from teach_batches.ts, and reports each step's loss.
 * Messages in: init, train, stop, reset. Out: ready, progress, weights, done, error (see TeachMessage).
 */
import type * as Ort from 'onnxruntime-web';
import { batchRows, batchTensors, replayInputs, type TeachExample } from './teach_batches.js';
import type { TeachConfig } from './teach_config.js';
import { activateClass, applyStep, initialState, stepFeeds, type TeachState } from './teach_state.js';

export interface TeachInit {
  type: 'init';
  /** Absolute URL of the onnxruntime-web entry module the page loaded, and its wasm binary. */
  runtime: string;
  binary: ArrayBuffer;
  backend: 'wasm' | 'webgpu';
  teach: TeachConfig;
  graph: ArrayBuffer;
  replay: ArrayBuffer;
  model: ArrayBuffer;
  pixels: { inputShape: number[]; mean: number[]; std: number[] };
}

export type TeachRequest =
  | TeachInit
  | { type: 'train'; examples: TeachExample[]; steps: number; lr: number }
  | { type: 'stop' }
  | { type: 'reset' }
  | { type: 'addClass'; row: number }
  | { type: 'memory' };

export type TeachMessage =
  | { type: 'ready'; backend: string; note?: string }
  | { type: 'progress'; step: number; loss: number; correct: number; size: number; done: number; total: number }
  | { type: 'weights'; step: number; values: [string, Float32Array][] }
  | { type: 'done'; reason: 'finished' | 'stopped'; step: number }
  | { type: 'error'; message: string }
  | { type: 'memory'; wasmBytes: number };

interface WorkerScope {
  postMessage(m: TeachMessage): void;
  addEventListener(type: 'message', f: (e: MessageEvent<TeachRequest>) => void): void;
}
const scope = self as unknown as WorkerScope;

let ort: typeof Ort;
let session: Ort.InferenceSession;
let teach: TeachConfig;
let model: Uint8Array;
let state: TeachState;
let replay: { inputs: Float32Array[]; labels: Uint8Array };
/** Head rows the user turned into classes, in order; Reset activates them again. */
const added: number[] = [];
/** onnxruntime's wasm memory, caught as the runtime instantiates its module (for the memory figure). */
const memories: WebAssembly.Memory[] = [];
let stopping = false;
let running: Promise<void> = Promise.resolve();

const tensor = (dtype: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: number[]) => new ort.Tensor(dtype, data, dims);
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

function watchWasmMemory(): void {
  const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (...a: unknown[]) => Promise<unknown>;
  const keep = (o: unknown) => {
    for (const v of Object.values((o ?? {}) as Record<string, unknown>)) {
      if (v instanceof WebAssembly.Memory) memories.push(v);
      else if (v && typeof v === 'object' && !(v instanceof WebAssembly.Module)) for (const w of Object.values(v)) if (w instanceof WebAssembly.Memory) memories.push(w);
    }
  };
  (WebAssembly as { instantiate: unknown }).instantiate = async (...a: unknown[]) => {
    keep(a[1]);
    const r = (await instantiate(...a)) as { instance?: WebAssembly.Instance; exports?: object };
    keep((r.instance ?? r).exports);
    return r;
  };
}

async function init(m: TeachInit): Promise<void> {
  watchWasmMemory();
  ort = (await import(m.runtime)) as typeof Ort;
  ort.env.wasm.wasmBinary = new Uint8Array(m.binary);
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  teach = m.teach;
  model = new Uint8Array(m.model);
  state = initialState(teach, model);
  replay = replayInputs(new Uint8Array(m.replay), teach.replay.count, { inputShape: m.pixels.inputShape, mean: m.pixels.mean, std: m.pixels.std });
  let note: string | undefined;
  let backend = m.backend;
  try {
    session = await ort.InferenceSession.create(new Uint8Array(m.graph), { executionProviders: [backend] });
  } catch (e) {
    if (backend === 'wasm') throw new Error(`the training graph failed to load (${(e as Error).message}); re-run export-web --trainable`);
    session = await ort.InferenceSession.create(new Uint8Array(m.graph), { executionProviders: ['wasm'] });
    note = `WebGPU could not run the training graph (${(e as Error).message}), so training runs on WebAssembly (CPU).`;
    backend = 'wasm';
  }
  scope.postMessage({ type: 'ready', backend, ...(note ? { note } : {}) });
}

function sendWeights(): void {
  scope.postMessage({ type: 'weights', step: state.step, values: [...state.values].map(([k, v]) => [k, v.slice()]) });
}

async function train(examples: TeachExample[], steps: number, lr: number): Promise<void> {
  stopping = false;
  for (let done = 0; done < steps; done++) {
    await nextTask(); // lets a Stop message in between steps
    if (stopping) break;
    const rows = batchRows(examples.length, teach.replay.count, teach.batchSize, teach.seed, state.step);
    const batch = batchTensors(rows, examples, replay);
    const out = await session.run(stepFeeds(teach, state, batch, lr, tensor));
    const { loss, correct } = applyStep(state, out);
    for (const t of Object.values(out)) t.dispose();
    scope.postMessage({ type: 'progress', step: state.step, loss, correct, size: batch.size, done: done + 1, total: steps });
  }
  sendWeights();
  scope.postMessage({ type: 'done', reason: stopping ? 'stopped' : 'finished', step: state.step });
}

scope.addEventListener('message', (e) => {
  const m = e.data;
  if (m.type === 'stop') {
    stopping = true;
    return;
  }
  running = running.then(async () => {
    try {
      if (m.type === 'init') await init(m);
      else if (m.type === 'train') await train(m.examples, m.steps, m.lr);
      else if (m.type === 'reset') {
        state = initialState(teach, model);
        for (const row of added) activateClass(teach, state, row);
        sendWeights();
      } else if (m.type === 'addClass') {
        activateClass(teach, state, m.row);
        added.push(m.row);
        sendWeights();
      } else if (m.type === 'memory') {
        scope.postMessage({ type: 'memory', wasmBytes: [...new Set(memories)].reduce((a, mem) => a + mem.buffer.byteLength, 0) });
      }
    } catch (err) {
      scope.postMessage({ type: 'error', message: (err as Error).message ?? String(err) });
    }
  });
});
