import { INPUT, PROBABILITIES } from '../../graph/names.js';
import { defaultFit, framedInput, inputToRgba, type Fit, type Frame, type PixelSettings } from '../../predict/pixels.js';
import { topK, type TopClass } from '../../predict/top_k.js';
import { bitmapPixels } from './decode.js';
import { drawingPad } from './draw.js';
import { parsePageConfig, type PageConfig } from './page_config.js';
import type { PrepReply, PrepRequest } from './prep_worker.js';
import { chooseBackend, gpuKind, loadModel, type LoadedModel } from './runtime.js';
import {
  $, addToGallery, BACKEND_NAMES, clearGallery, clearResult, enableControls, showBackend, showError, showInput, showNotice, showProgress,
  showResult, showWaiting,
} from './view.js';

/** The last classification, for tests and the curious (window.__lastPrediction). */
export interface PagePrediction {
  source: string;
  probabilities: number[];
  top: TopClass[];
  /** Inference time, and decoding plus preprocessing before it, in milliseconds. */
  ms: number;
  preprocessMs: number;
  backend: string;
  invert: boolean;
  /** How the image was framed (pixels.ts step 3) and the part of it the model saw. */
  fit: Fit;
  frame: Frame;
}

export interface PageState {
  status: 'loading' | 'ready' | 'error';
  backend?: string;
  /** The latest error shown on the page, if any. */
  error?: string;
  /** The standing notice, e.g. why the page runs on another backend than asked for. */
  notice?: string;
}

declare global {
  interface Window {
    __lastPrediction?: PagePrediction;
    __pageState: PageState;
    /** Every result of the latest group of several files, in order. */
    __predictions?: PagePrediction[];
    /** Set as this module starts; index.html's classic script reports a page whose module never ran. */
    __pageStarted?: boolean;
  }
}

window.__pageStarted = true;
window.__pageState = { status: 'loading' };

let config: PageConfig;
let model: LoadedModel;
let busy = false;
/** Opens once the model is ready: input that arrives earlier (a drop) waits here instead of being lost. */
let markReady!: () => void;
let queue: Promise<void> = new Promise((resolve) => (markReady = resolve));
/** Resolves once config.json is read: a file dropped earlier is prepared then. */
let markConfig!: () => void;
const configLoaded = new Promise<void>((resolve) => (markConfig = resolve));
/** The true class of each sample, by the name the page shows for it. */
const truths = new Map<string, number | null>();
/** Results of the latest group of files, for the gallery; reset when a new group starts. */
let group: PagePrediction[] = [];

/** A model input, how it was made, and how long decoding and preprocessing took (ms). */
interface Prepared {
  input: Float32Array;
  frame: Frame;
  inverted: boolean;
  ms: number;
  preview?: ImageBitmap;
}

/** Something to classify: its name and how to make its model input, inverted or not ('auto': when its background is light). */
interface Source {
  name: string;
  prepare(invert: boolean | 'auto'): Promise<Prepared>;
}

/** The latest input classified (the Invert box and a fine-tuned model classify it again) and its model input. */
let last: { source: Source; input?: Float32Array } | null = null;

function fail(message: string): void {
  window.__pageState = { ...window.__pageState, error: message };
  showError(message);
}

/** The input settings of the model (without fit: replay images for Teach are already framed). */
function pixelSettings(): PixelSettings {
  return {
    inputShape: config.inputShape,
    mean: config.normalization.mean,
    std: config.normalization.std,
    invert: ($('invert') as HTMLInputElement).checked,
  };
}

/** The settings a classification uses: the model's, with the fit its run recorded, else its default fit. */
function classifySettings(): PixelSettings {
  return { ...pixelSettings(), fit: config.fit ?? defaultFit(config.inputShape) };
}

let prepWorker: Worker | undefined;
let prepId = 0;
const prepWaiting = new Map<number, { resolve(p: Prepared): void; reject(e: Error): void; t0: number }>();

/** Decode and preprocess a file in the worker (prep_worker.ts); the time includes the messages both ways. */
async function prepareFile(blob: Blob, name: string, invert: boolean | 'auto'): Promise<Prepared> {
  await configLoaded;
  if (!prepWorker) {
    prepWorker = new Worker(new URL('./prep_worker.js', import.meta.url), { type: 'module' });
    prepWorker.addEventListener('message', (e: MessageEvent<PrepReply>) => {
      const m = e.data;
      const waiting = prepWaiting.get(m.id);
      if (!waiting) return;
      prepWaiting.delete(m.id);
      if (m.type === 'error') return waiting.reject(new Error(m.message));
      waiting.resolve({ input: m.input, frame: m.frame, inverted: m.inverted, preview: m.preview, ms: performance.now() - waiting.t0 });
    });
    prepWorker.addEventListener('error', (e) => {
      for (const w of prepWaiting.values()) w.reject(new Error(`The image decoder stopped (${e.message || 'it could not start'}); reload the page.`));
      prepWaiting.clear();
    });
  }
  const id = ++prepId;
  const settings = classifySettings();
  delete settings.invert;
  const request: PrepRequest = { id, blob, name, settings, invert, preview: ($('pad') as HTMLCanvasElement).width };
  return new Promise((resolve, reject) => {
    prepWaiting.set(id, { resolve, reject, t0: performance.now() });
    prepWorker!.postMessage(request);
  });
}

async function run(prepared: Prepared, source: string, inGroup: boolean): Promise<void> {
  const settings = classifySettings();
  const { input, frame, inverted } = prepared;
  const { ort, session, backend } = model;
  const feed = new ort.Tensor('float32', input, [1, ...config.inputShape]);
  const t0 = performance.now();
  const out = await session.run({ [INPUT]: feed });
  const ms = performance.now() - t0;
  const probabilities = Array.from(out[PROBABILITIES].data as Float32Array);
  const ranked = topK(probabilities, config.classNames.length, config.classNames);
  const top = ranked.slice(0, 3);
  const seen = inputToRgba(input, settings);
  showInput(seen);
  const truth = truths.get(source) ?? null;
  showResult(source, ranked, ms, prepared.ms, backend, truth === null ? null : config.classNames[truth]);
  if (truth !== null) markSample(source, ranked[0].index === truth);
  showError(null);
  const prediction = { source, probabilities, top, ms, preprocessMs: prepared.ms, backend, invert: inverted, fit: settings.fit!, frame };
  if (inGroup) {
    group.push(prediction);
    addToGallery(source, seen, top[0]);
    window.__predictions = [...group];
  } else if (group.length) {
    group = [];
    clearGallery();
  }
  window.__lastPrediction = prediction;
}

/**
 * Classify a source after those before it (a session runs one request at a time) and after the model is
 * ready. Its input is prepared at once (a file in the worker, while the model may still load); an error
 * preparing it is shown as it is (it names the file and the fix).
 */
function classify(source: Source, invert: boolean | 'auto', inGroup = false): Promise<void> {
  const prepared = source.prepare(invert);
  const strokes = pad.strokes();
  prepared.catch(() => undefined); // handled in the queue below; this only stops an "unhandled rejection" report
  last = { source };
  queue = queue.then(async () => {
    busy = true;
    let p: Prepared;
    try {
      p = await prepared;
    } catch (e) {
      busy = false;
      return fail((e as Error).message);
    }
    try {
      if (invert === 'auto') ($('invert') as HTMLInputElement).checked = p.inverted;
      // A stroke begun since the file was given wins: its preview must not wipe the new drawing.
      if (p.preview && pad.strokes() === strokes) pad.show(p.preview);
      else p.preview?.close();
      describeFraming(p, source.name === 'drawing', invert === 'auto');
      await run(p, source.name, inGroup);
      if (last?.source === source) last.input = p.input;
    } catch (e) {
      fail(`Could not classify ${source.name}: ${(e as Error).message}`);
    } finally {
      busy = false;
    }
  });
  return queue;
}

function fileSource(blob: Blob, name: string): Source {
  return { name, prepare: (invert) => prepareFile(blob, name, invert) };
}

/** The pad's pixels now, prepared on the page (280 x 280: a few milliseconds). Drawings are never inverted automatically. */
function drawingSource(canvas: HTMLCanvasElement): Source {
  const image = bitmapPixels(canvas);
  return {
    name: 'drawing',
    prepare: async (invert) => {
      const t0 = performance.now();
      const inverted = invert === true;
      const { input, frame } = framedInput(image, { ...classifySettings(), invert: inverted });
      return { input, frame, inverted, ms: performance.now() - t0 };
    },
  };
}

/** Say what was done to the image besides resizing: inverted (and why), cropped to its object or centred. */
function describeFraming(p: Prepared, drawing: boolean, auto: boolean): void {
  const notes: string[] = [];
  if (p.inverted) {
    notes.push(auto
      ? 'Light background found, so the colours are inverted (the model knows light objects on dark); untick Invert to undo.'
      : 'Colours inverted (Invert is ticked).');
  }
  if (classifySettings().fit === 'crop') {
    if (p.frame.cropped) notes.push('Resized so its shorter side fills the frame and the middle cut out, as the training images were.');
  } else if (p.frame.cropped || p.frame.padded) {
    notes.push(`${drawing ? 'Centred by its bounding box' : 'Cropped to the object and centred'} in a square, as the training images were made.`);
  }
  $('seen-note').textContent = notes.length ? notes.join(' ') : 'The model\'s input after resizing and normalisation.';
}

/** Each of several files in turn, into the gallery; one file is an ordinary result. */
async function classifyFiles(files: File[]): Promise<void> {
  if (files.length === 0) return;
  if (window.__pageState.status === 'error') return fail('The model did not load, so images cannot be classified; see the message above.');
  if (window.__pageState.status === 'loading') showWaiting(files.length === 1 ? files[0].name : `${files.length} files`);
  const inGroup = files.length > 1;
  if (inGroup) {
    group = [];
    clearGallery();
  }
  for (const f of files) await classify(fileSource(f, f.name), 'auto', inGroup);
}

/**
 * Drops land anywhere on the page (never navigating away from it); a drop while the model loads is
 * queued and classified when it is ready.
 */
function wireDrops(): void {
  const drop = $('drop');
  document.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  document.addEventListener('dragleave', (e) => {
    if (!e.relatedTarget) drop.classList.remove('over');
  });
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    void classifyFiles(Array.from(e.dataTransfer?.files ?? []));
  });
}

function wireInputs(): void {
  const file = $('file') as HTMLInputElement;
  file.addEventListener('change', () => {
    void classifyFiles(Array.from(file.files ?? []));
    file.value = '';
  });

  $('clear').addEventListener('click', () => {
    pad.clear();
    last = null;
    clearResult();
  });
  $('invert').addEventListener('change', () => {
    if (last) void classify(last.source, ($('invert') as HTMLInputElement).checked);
  });

  if (config.samples.length > 0) {
    $('samples-block').hidden = false;
    $('samples').replaceChildren(...config.samples.map((src, i) => {
      const name = src.split('/').pop()!;
      const label = config.sampleLabels[i];
      truths.set(name, label);
      const button = document.createElement('button');
      button.type = 'button';
      button.title = label === null ? `Sample ${name}` : `Sample: ${config.classNames[label]}`;
      button.setAttribute('aria-label', button.title);
      button.dataset.sample = name;
      const img = document.createElement('img');
      img.src = src;
      img.alt = '';
      button.append(img);
      button.addEventListener('click', async () => {
        const response = await fetch(src);
        if (!response.ok) return fail(`Sample ${name} is missing (HTTP ${response.status}).`);
        await classify(fileSource(await response.blob(), name), 'auto');
      });
      return button;
    }));
  }
}

/** Mark a sample button right or wrong after the model classified it. */
function markSample(name: string, right: boolean): void {
  const button = document.querySelector<HTMLButtonElement>(`#samples button[data-sample="${CSS.escape(name)}"]`);
  if (!button) return;
  button.dataset.verdict = right ? 'right' : 'wrong';
  const label = button.title.replace(/ \((right|wrong)\)$/, '');
  button.title = `${label} (${right ? 'right' : 'wrong'})`;
  button.setAttribute('aria-label', button.title);
}

async function start(): Promise<void> {
  try {
    const response = await fetch('config.json');
    if (!response.ok) throw new Error(`config.json could not be loaded (HTTP ${response.status}); re-run export-web.`);
    config = parsePageConfig(await response.json(), 'config.json');
    markConfig();
  } catch (e) {
    showBackend('No model', 'error');
    window.__pageState = { status: 'error' };
    return fail((e as Error).message);
  }
  $('title').textContent = `${config.model} · ${config.classNames.length} classes`;
  const accuracy = config.testAccuracy === undefined ? '' : `; ${(config.testAccuracy * 100).toFixed(1)} % right on the test set`;
  $('subtitle').textContent = `Input ${config.inputShape[1]}×${config.inputShape[2]} ${config.inputShape[0] === 1 ? 'greyscale' : 'colour'}${accuracy}; runs entirely in your browser.`;
  try {
    const choice = chooseBackend(new URLSearchParams(location.search).get('backend'), await gpuKind());
    showProgress(0);
    model = await loadModel(config, choice, showProgress);
  } catch (e) {
    showProgress(null);
    showBackend('Model failed to load', 'error');
    window.__pageState = { status: 'error' };
    return fail((e as Error).message);
  }
  showProgress(null);
  showBackend(BACKEND_NAMES[model.backend] ?? model.backend, 'ready');
  if (model.note) showNotice(model.note);
  wireInputs();
  enableControls(true);
  window.__pageState = { status: 'ready', backend: model.backend, ...(model.note ? { notice: model.note } : {}) };
  markReady();
  if (config.teach) {
    // Loaded only on a trainable page, so a page that only classifies downloads none of the trainer.
    const { setupTeach } = await import('./teach.js');
    await setupTeach({
      config, model, pixels: pixelSettings,
      current: () => (last?.input ? { input: last.input, source: last.source.name } : null),
      useModel,
    }).catch((e: Error) => fail(`The Teach panel failed to start: ${e.message}`));
  }
}

/** Predict with these model bytes from now on (fine-tuned weights), and classify the shown image again. */
function useModel(bytes: Uint8Array): Promise<void> {
  queue = queue.then(async () => {
    try {
      const next = await model.ort.InferenceSession.create(bytes, { executionProviders: [model.backend] });
      const old = model.session;
      model.session = next;
      await old.release();
    } catch (e) {
      fail(`The fine-tuned model could not be loaded: ${(e as Error).message}`);
    }
  });
  return last ? classify(last.source, ($('invert') as HTMLInputElement).checked) : queue;
}

/** The drawing pad; it also shows each uploaded image. */
const padCanvas = $('pad') as HTMLCanvasElement;
const pad = drawingPad(
  padCanvas,
  () => {
    if (!busy) void classify(drawingSource(padCanvas), false);
  },
  () => void classify(drawingSource(padCanvas), false),
);

wireDrops();
void start();
