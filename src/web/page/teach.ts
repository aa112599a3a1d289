/**
 * The "Teach" panel of a trainable page: the user's examples, Train / Stop / Reset / Download, and the live
 * loss and accuracy. Training runs in teach_worker.ts; this module only moves data and updates the view.
 */
import { inputToRgba, type PixelSettings } from '../../predict/pixels.js';
import type { PageConfig } from './page_config.js';
import type { LoadedModel } from './runtime.js';
import type { TeachExample } from './teach_batches.js';
import { parseTeachConfig, type TeachConfig } from './teach_config.js';
import { checkpointBytes, downloadModel, patchedModel, type TeachState } from './teach_state.js';
import type { TeachMessage, TeachRequest } from './teach_worker.js';
import { $ } from './view.js';

/** What the page tells tests and the curious about training (window.__teach). */
export interface TeachPageState {
  status: 'loading' | 'ready' | 'training' | 'error';
  backend?: string;
  error?: string;
  /** Optimizer steps since the exported weights. */
  step: number;
  /** Every step run since the exported weights (or the last Reset): its loss and right answers in the batch. */
  history: { step: number; loss: number; correct: number; size: number }[];
  /** The examples added, as the model inputs fed to training. */
  examples: { pixels: number[]; label: number; source: string }[];
  /** How the latest Train ended. */
  ended?: 'finished' | 'stopped';
}

declare global {
  interface Window {
    __teach?: TeachPageState;
    /** Bytes of the training worker's wasm memory now (for the memory figure in BENCHMARKS.md). */
    __teachWasmBytes?: () => Promise<number>;
  }
}

export interface TeachSettings {
  config: PageConfig;
  model: LoadedModel;
  pixels: () => PixelSettings;
  /** The model input of the image shown now, or null when there is none. */
  current: () => { input: Float32Array; source: string } | null;
  /** Use these model bytes for predictions from now on. */
  useModel: (bytes: Uint8Array) => Promise<void>;
}

async function fetchBytes(url: string, what: string): Promise<ArrayBuffer> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${what} (${url}) could not be downloaded: HTTP ${r.status}; re-run export-web --trainable`);
  return r.arrayBuffer();
}

function save(bytes: Uint8Array, name: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

export async function setupTeach(s: TeachSettings): Promise<void> {
  const { config, model } = s;
  const panel = $('teach');
  panel.hidden = false;
  const status = $('teach-status');
  const page: TeachPageState = { status: 'loading', step: 0, history: [], examples: [] };
  window.__teach = page;
  const say = (text: string) => (status.textContent = text);
  const buttons = {
    add: $('teach-add') as HTMLButtonElement,
    newClass: $('teach-new-class') as HTMLButtonElement,
    train: $('teach-train') as HTMLButtonElement,
    stop: $('teach-stop') as HTMLButtonElement,
    reset: $('teach-reset') as HTMLButtonElement,
    download: $('teach-download') as HTMLButtonElement,
  };
  const setBusy = (training: boolean) => {
    buttons.train.disabled = training || page.examples.length === 0;
    buttons.stop.disabled = !training;
    buttons.reset.disabled = training;
    buttons.download.disabled = training;
    buttons.add.disabled = training;
    buttons.newClass.disabled = training || !teach || config.classNames.length >= teach.classes.count + teach.classes.spare;
  };
  const fail = (message: string) => {
    page.status = 'error';
    page.error = message;
    say(`Training failed: ${message}`);
    status.dataset.state = 'error';
    setBusy(false);
  };

  let teach: TeachConfig;
  let replay: ArrayBuffer;
  let graph: ArrayBuffer;
  try {
    const r = await fetch(config.teach!);
    if (!r.ok) throw new Error(`${config.teach} could not be downloaded: HTTP ${r.status}; re-run export-web --trainable`);
    teach = parseTeachConfig(await r.json(), config.teach!);
    [graph, replay] = await Promise.all([fetchBytes(teach.graph, 'The training graph'), fetchBytes(teach.replay.file, 'The replay images')]);
  } catch (e) {
    return fail((e as Error).message);
  }
  const state: TeachState = { values: new Map(), step: 0 };

  const select = $('teach-class') as HTMLSelectElement;
  select.replaceChildren(...config.classNames.map((name, k) => Object.assign(document.createElement('option'), { value: String(k), textContent: name })));
  ($('teach-lr') as HTMLInputElement).value = String(teach.learningRate);
  $('teach-about').textContent = `Train fine-tunes ${teach.parameters.filter((p) => p.role === 'trainable').map((p) => p.name).join(', ')} ` +
    `with the run's ${teach.optimizer.name} optimizer, ${teach.batchSize} images a step: your examples mixed with ${teach.replay.count} of the original training images, so the model does not forget them.`;

  const worker = new Worker(new URL('./teach_worker.js', import.meta.url), { type: 'module' });
  const send = (m: TeachRequest, transfer: Transferable[] = []) => worker.postMessage(m, transfer);
  worker.addEventListener('error', (e) => fail(`the training worker stopped: ${e.message || 'it could not start'}`));
  worker.addEventListener('message', (e: MessageEvent<TeachMessage>) => {
    const m = e.data;
    if (m.type === 'ready') {
      page.status = 'ready';
      page.backend = m.backend;
      say(`Ready to train on ${m.backend === 'webgpu' ? 'WebGPU' : 'WebAssembly (CPU)'}. ${m.note ?? ''}Add examples first.`);
      setBusy(false);
    } else if (m.type === 'progress') {
      page.step = m.step;
      page.history.push({ step: m.step, loss: m.loss, correct: m.correct, size: m.size });
      say(`Step ${m.done} of ${m.total} (${m.step} in all): loss ${m.loss.toFixed(4)}, ${Math.round((100 * m.correct) / m.size)} % of the batch right.`);
      ($('teach-progress') as HTMLProgressElement).value = m.done / m.total;
    } else if (m.type === 'weights') {
      state.values = new Map(m.values);
      state.step = m.step;
      void s.useModel(patchedModel(teach, model.modelBytes, state));
    } else if (m.type === 'done') {
      page.status = 'ready';
      page.ended = m.reason;
      const last = page.history[page.history.length - 1];
      say(`${m.reason === 'stopped' ? 'Stopped' : 'Done'} after ${m.step} steps${last ? `; last loss ${last.loss.toFixed(4)}` : ''}. Predictions now use the fine-tuned weights.`);
      setBusy(false);
    } else if (m.type === 'error') {
      fail(m.message);
    } else if (m.type === 'memory') {
      memoryWaiters.shift()?.(m.wasmBytes);
    }
  });
  const memoryWaiters: ((bytes: number) => void)[] = [];
  window.__teachWasmBytes = () => new Promise<number>((resolve) => {
    memoryWaiters.push(resolve);
    send({ type: 'memory' });
  });
  const modelCopy = model.modelBytes.slice().buffer;
  send({
    type: 'init', runtime: model.runtime.module, binary: model.runtime.binary.slice().buffer, backend: model.backend, teach, graph, replay, model: modelCopy,
    pixels: { inputShape: [...config.inputShape], mean: config.normalization.mean, std: config.normalization.std },
  });

  const list = $('teach-examples');
  const refreshCount = () => ($('teach-count').textContent = `${page.examples.length} example${page.examples.length === 1 ? '' : 's'}`);
  buttons.add.addEventListener('click', () => {
    const cur = s.current();
    if (!cur) return say('Draw or upload an image first, then add it with its class.');
    const label = Number(select.value);
    page.examples.push({ pixels: Array.from(cur.input), label, source: cur.source });
    const seen = inputToRgba(cur.input, s.pixels());
    const canvas = Object.assign(document.createElement('canvas'), { width: seen.width, height: seen.height });
    canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(seen.data), seen.width, seen.height), 0, 0);
    const li = document.createElement('li');
    li.append(canvas, Object.assign(document.createElement('span'), { textContent: config.classNames[label] }));
    list.append(li);
    refreshCount();
    setBusy(false);
  });
  // A new class takes the next spare head row. config.classNames is the list the page ranks predictions
  // with, so the class shows in every prediction from now on.
  const nameInput = $('teach-new-name') as HTMLInputElement;
  buttons.newClass.addEventListener('click', () => {
    const name = nameInput.value.trim();
    const room = teach.classes.count + teach.classes.spare;
    if (!name) return say('Type the new class\'s name first.');
    if (config.classNames.includes(name)) return say(`There is already a class "${name}": pick it in the list instead.`);
    if (config.classNames.length >= room) return say(`No room for another class: this page was exported with ${teach.classes.spare} spare; export it again with a larger --new-classes.`);
    const row = config.classNames.length;
    config.classNames.push(name);
    select.append(Object.assign(document.createElement('option'), { value: String(row), textContent: name }));
    select.value = String(row);
    nameInput.value = '';
    send({ type: 'addClass', row });
    say(`Added class "${name}" (a new output of the head, initialised as PyTorch would). Add examples of it, then Train.`);
    setBusy(page.status === 'training');
  });
  buttons.train.addEventListener('click', () => {
    const steps = Number(($('teach-steps') as HTMLInputElement).value);
    const lr = Number(($('teach-lr') as HTMLInputElement).value);
    if (!(Number.isInteger(steps) && steps >= 1 && steps <= 10000)) return say('Steps must be a whole number from 1 to 10000.');
    if (!(lr > 0 && lr < 1)) return say('The learning rate must be a number between 0 and 1, e.g. 0.001.');
    const examples: TeachExample[] = page.examples.map((e) => ({ pixels: Float32Array.from(e.pixels), label: e.label }));
    page.status = 'training';
    page.ended = undefined;
    status.dataset.state = '';
    setBusy(true);
    say('Training…');
    send({ type: 'train', examples, steps, lr });
  });
  buttons.stop.addEventListener('click', () => send({ type: 'stop' }));
  buttons.reset.addEventListener('click', () => {
    page.history = [];
    page.step = 0;
    page.ended = undefined;
    send({ type: 'reset' });
    say('Back to the exported weights.');
  });
  buttons.download.addEventListener('click', () => {
    if (state.values.size === 0) return say('Nothing trained yet: the exported model.onnx is the one beside this page.');
    const active = config.classNames.length;
    const runConfig = { model: config.model, inputShape: config.inputShape, classNames: config.classNames, normalization: config.normalization, ...(config.fit ? { fit: config.fit } : {}) };
    save(downloadModel(teach, model.modelBytes, state, active), 'model.onnx');
    save(checkpointBytes(teach, state, active), 'checkpoint.safetensors');
    save(new TextEncoder().encode(JSON.stringify(runConfig, null, 2) + '\n'), 'config.json');
    say(`Downloaded model.onnx, checkpoint.safetensors and config.json (${active} classes, step ${state.step}); classify with npm run predict -- <that folder> <images>, or continue with npm run train -- ${teach.model} --init checkpoint.safetensors.`);
  });
  refreshCount();
}
