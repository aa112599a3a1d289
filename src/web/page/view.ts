import type { RgbaImage } from '../../predict/pixels.js';
import type { TopClass } from '../../predict/top_k.js';

export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html lacks #${id}; re-run export-web`);
  return el;
}

export const BACKEND_NAMES: Record<string, string> = { webgpu: 'WebGPU', wasm: 'WebAssembly (CPU)' };

export function showBackend(text: string, state: 'loading' | 'ready' | 'error'): void {
  const badge = $('backend');
  badge.textContent = text;
  badge.dataset.state = state;
}

/** Download progress under the badge; null hides it. */
export function showProgress(fraction: number | null): void {
  const bar = $('progress') as HTMLProgressElement;
  bar.hidden = fraction === null;
  if (fraction !== null) bar.value = fraction;
  if (fraction !== null) showBackend(`Loading model… ${Math.floor(fraction * 100)} %`, 'loading');
}

/** Turn the input controls on (ready) or visibly off (loading, or the model failed). */
export function enableControls(on: boolean): void {
  ($('controls') as HTMLFieldSetElement).disabled = !on;
  $('controls-note').hidden = on;
}

/** A standing line of information (not an error), e.g. why the page runs on another backend. */
export function showNotice(message: string | null): void {
  const notice = $('notice');
  notice.hidden = message === null;
  notice.textContent = message ?? '';
}

export function showError(message: string | null): void {
  const banner = $('error');
  banner.hidden = message === null;
  banner.textContent = message ?? '';
}

/** Draw what the model sees, scaled up by CSS. */
export function showInput(img: RgbaImage): void {
  const canvas = $('seen') as HTMLCanvasElement;
  canvas.width = img.width;
  canvas.height = img.height;
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
}

/** Below this top probability the result says the model is unsure. */
export const LOW_CONFIDENCE = 0.5;

/**
 * Every class with its bar, most probable first; the verdict against the true class when known (samples);
 * a one-line summary that screen readers announce and that narrow screens pin to the bottom of the view.
 */
export function showResult(source: string, ranked: TopClass[], ms: number, preprocessMs: number, backend: string, truth: string | null): void {
  $('source').textContent = source;
  const best = ranked[0];
  const bars = $('bars');
  bars.replaceChildren(...ranked.map((t) => {
    const li = document.createElement('li');
    const label = document.createElement('div');
    label.className = 'bar-label';
    const name = document.createElement('b');
    name.textContent = t.label;
    const pct = document.createElement('span');
    pct.textContent = `${(t.probability * 100).toFixed(1)}%`;
    label.append(name, pct);
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.setAttribute('aria-hidden', 'true');
    const fill = document.createElement('div');
    fill.style.width = `${Math.max(0, Math.min(100, t.probability * 100))}%`;
    bar.append(fill);
    li.append(label, bar);
    return li;
  }));
  const pct = `${(best.probability * 100).toFixed(1)} %`;
  let line = best.probability < LOW_CONFIDENCE ? `Not sure: best guess ${best.label} (${pct})` : `${best.label} (${pct})`;
  if (truth !== null) line += truth === best.label ? ` — right, it is ${truth}` : ` — wrong, it is ${truth}`;
  const summary = $('summary');
  summary.textContent = line;
  summary.dataset.confidence = best.probability < LOW_CONFIDENCE ? 'low' : 'high';
  summary.hidden = false;
  $('timing').textContent = `Preprocessing ${preprocessMs.toFixed(1)} ms, inference ${ms.toFixed(1)} ms on ${BACKEND_NAMES[backend] ?? backend}`;
}

export function clearResult(): void {
  clearGallery();
  $('summary').textContent = '';
  $('summary').hidden = true;
  $('source').textContent = 'No image yet';
  $('bars').replaceChildren();
  $('timing').textContent = '';
}

/** An input that waits for the model. */
export function showWaiting(what: string): void {
  $('source').textContent = `${what}: waiting for the model to load…`;
}

/** One small result of a group of files: what the model saw, the top class and its probability. */
export function addToGallery(source: string, seen: RgbaImage, top: TopClass): void {
  const gallery = $('gallery');
  gallery.hidden = false;
  const li = document.createElement('li');
  const canvas = document.createElement('canvas');
  canvas.width = seen.width;
  canvas.height = seen.height;
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(seen.data), seen.width, seen.height), 0, 0);
  canvas.setAttribute('aria-hidden', 'true');
  const text = document.createElement('div');
  const name = document.createElement('span');
  name.className = 'gallery-name';
  name.textContent = source;
  const label = document.createElement('b');
  label.textContent = `${top.label} ${(top.probability * 100).toFixed(1)}%`;
  text.append(name, label);
  li.append(canvas, text);
  gallery.append(li);
}

export function clearGallery(): void {
  $('gallery').replaceChildren();
  $('gallery').hidden = true;
}
