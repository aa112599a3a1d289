import { INPUT, PROBABILITIES } from '../../graph/names.js';
import { imageToInput, inputToRgba, lightBackground, type PixelSettings, type RgbaImage } from '../../predict/pixels.js';
import { topK, type TopClass } from '../../predict/top_k.js';
import { bitmapPixels, decodeBlob } from './decode.js';
import { drawingPad } from './draw.js';
import { parsePageConfig, type PageConfig } from './page_config.js';
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
let last: { image: RgbaImage; source: string } | null = null;
let busy = false;
/** Opens once the model is ready: input that arrives earlier (a drop) waits here instead of being lost. */
let markReady!: () => void;
let queue: Promise<void> = new Promise((resolve) => (markReady = resolve));
/** The true class of each sample, by the name the page shows for it. */
const truths = new Map<string, number | null>();
/** Results of the latest group of files, for the gallery; reset when a new group starts. */
let group: PagePrediction[] = [];

function fail(message: string): void {
  window.__pageState = { ...window.__pageState, error: message };
  showError(message);
}

function pixelSettings(): PixelSettings {
  return {
    inputShape: config.inputShape,
    mean: config.normalization.mean,
    std: config.normalization.std,
    invert: ($('invert') as HTMLInputElement).checked,
  };
}

async function run(image: RgbaImage, source: string, inGroup: boolean, decodeMs: number): Promise<void> {
  const settings = pixelSettings();
  const tPrep = performance.now();
  const input = imageToInput(image, settings);
  const preprocessMs = decodeMs + performance.now() - tPrep;
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
  showResult(source, ranked, ms, preprocessMs, backend, truth === null ? null : config.classNames[truth]);
  if (truth !== null) markSample(source, ranked[0].index === truth);
  showError(null);
  const prediction = { source, probabilities, top, ms, preprocessMs, backend, invert: settings.invert ?? false };
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

/** Classify one image after those before it (a session runs one request at a time) and after the model is ready. */
function classify(image: RgbaImage, source: string, inGroup = false, decodeMs = 0): Promise<void> {
  last = { image, source };
  queue = queue.then(async () => {
    busy = true;
    try {
      await run(image, source, inGroup, decodeMs);
    } catch (e) {
      fail(`Could not classify ${source}: ${(e as Error).message}`);
    } finally {
      busy = false;
    }
  });
  return queue;
}

async function classifyBlob(blob: Blob, name: string, inGroup = false): Promise<void> {
  try {
    const t0 = performance.now();
    const image = await decodeBlob(blob, name);
    autoInvert(image);
    await classify(image, name, inGroup, performance.now() - t0);
  } catch (e) {
    fail((e as Error).message);
  }
}

/**
 * Tick Invert for an image on a light background (as `predict` does by default) and say so; the user can
 * untick it. Drawings are white on black and never inverted automatically.
 */
function autoInvert(image: RgbaImage): void {
  const light = lightBackground(image);
  ($('invert') as HTMLInputElement).checked = light;
  $('seen-note').textContent = light
    ? 'Light background found, so the colours are inverted (the model knows light objects on dark); untick Invert to undo.'
    : 'The model\'s input after resizing and normalisation.';
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
  for (const f of files) await classifyBlob(f, f.name, inGroup);
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

  const canvas = $('pad') as HTMLCanvasElement;
  const pad = drawingPad(
    canvas,
    () => {
      if (!busy) void classify(bitmapPixels(canvas), 'drawing');
    },
    () => void classify(bitmapPixels(canvas), 'drawing'),
  );
  $('clear').addEventListener('click', () => {
    pad.clear();
    last = null;
    clearResult();
  });
  $('invert').addEventListener('change', () => {
    if (last) void classify(last.image, last.source);
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
        await classifyBlob(await response.blob(), name);
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
      current: () => (last ? { input: imageToInput(last.image, pixelSettings()), source: last.source } : null),
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
  return last ? classify(last.image, last.source) : queue;
}

wireDrops();
void start();
