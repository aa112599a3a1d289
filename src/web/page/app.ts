import { INPUT, PROBABILITIES } from '../../graph/names.js';
import { imageToInput, inputToRgba, type PixelSettings, type RgbaImage } from '../../predict/pixels.js';
import { topK, type TopClass } from '../../predict/top_k.js';
import { bitmapPixels, decodeBlob } from './decode.js';
import { drawingPad } from './draw.js';
import { parsePageConfig, type PageConfig } from './page_config.js';
import { chooseBackend, gpuKind, loadModel, type LoadedModel } from './runtime.js';
import { $, BACKEND_NAMES, clearResult, enableControls, showBackend, showError, showInput, showNotice, showProgress, showResult } from './view.js';

/** The last classification, for tests and the curious (window.__lastPrediction). */
export interface PagePrediction {
  source: string;
  probabilities: number[];
  top: TopClass[];
  ms: number;
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
    /** Set as this module starts; index.html's classic script reports a page whose module never ran. */
    __pageStarted?: boolean;
  }
}

window.__pageStarted = true;
window.__pageState = { status: 'loading' };

let config: PageConfig;
let model: LoadedModel;
let last: { image: RgbaImage; source: string } | null = null;
let queue: Promise<void> = Promise.resolve();
let busy = false;

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

async function run(image: RgbaImage, source: string): Promise<void> {
  const settings = pixelSettings();
  const input = imageToInput(image, settings);
  const { ort, session, backend } = model;
  const feed = new ort.Tensor('float32', input, [1, ...config.inputShape]);
  const t0 = performance.now();
  const out = await session.run({ [INPUT]: feed });
  const ms = performance.now() - t0;
  const probabilities = Array.from(out[PROBABILITIES].data as Float32Array);
  const top = topK(probabilities, 3, config.classNames);
  showInput(inputToRgba(input, settings));
  showResult(source, top, ms, backend);
  showError(null);
  window.__lastPrediction = { source, probabilities, top, ms, backend, invert: settings.invert ?? false };
}

/** Classify one image; runs one at a time, since a session runs one request at a time. */
function classify(image: RgbaImage, source: string): Promise<void> {
  last = { image, source };
  queue = queue.then(async () => {
    busy = true;
    try {
      await run(image, source);
    } catch (e) {
      fail(`Could not classify ${source}: ${(e as Error).message}`);
    } finally {
      busy = false;
    }
  });
  return queue;
}

async function classifyBlob(blob: Blob, name: string): Promise<void> {
  try {
    await classify(await decodeBlob(blob, name), name);
  } catch (e) {
    fail((e as Error).message);
  }
}

function wireInputs(): void {
  const file = $('file') as HTMLInputElement;
  file.addEventListener('change', () => {
    const f = file.files?.[0];
    if (f) void classifyBlob(f, f.name);
    file.value = '';
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) void classifyBlob(f, f.name);
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
    $('samples').replaceChildren(...config.samples.map((src) => {
      const name = src.split('/').pop()!;
      const button = document.createElement('button');
      button.type = 'button';
      button.title = name;
      button.dataset.sample = name;
      const img = document.createElement('img');
      img.src = src;
      img.alt = name;
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
  $('subtitle').textContent = `Input ${config.inputShape[1]}×${config.inputShape[2]} ${config.inputShape[0] === 1 ? 'greyscale' : 'colour'}; runs entirely in your browser.`;
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
}

void start();
