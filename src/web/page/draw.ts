/**
 * A white-on-black drawing pad (Fashion-MNIST style). Calls `onStroke` while drawing and `onDone` after.
 * `show` puts an uploaded image on it (fitted, on black) until the next stroke, which starts a new drawing;
 * `strokes` counts the strokes begun so far.
 */
export function drawingPad(canvas: HTMLCanvasElement, onStroke: () => void, onDone: () => void): { clear(): void; show(image: ImageBitmap): void; strokes(): number } {
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  let showing = false;
  let strokes = 0;
  const show = (image: ImageBitmap) => {
    clear();
    const scale = Math.min(canvas.width / image.width, canvas.height / image.height);
    const w = image.width * scale;
    const h = image.height * scale;
    ctx.drawImage(image, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
    image.close();
    showing = true;
  };
  let last: { x: number; y: number } | null = null;
  const point = (e: PointerEvent) => {
    const r = canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * canvas.width) / r.width, y: ((e.clientY - r.top) * canvas.height) / r.height };
  };
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    if (showing) clear();
    showing = false;
    strokes++;
    last = point(e);
    stroke(last, last);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = point(e);
    stroke(last, p);
    last = p;
    onStroke();
  });
  const end = () => {
    if (!last) return;
    last = null;
    onDone();
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  function stroke(a: { x: number; y: number }, b: { x: number; y: number }) {
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = canvas.width / 14;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x, b.y);
    ctx.stroke();
  }
  return { clear, show, strokes: () => strokes };
}
