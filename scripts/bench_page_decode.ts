/**
 * The exported page with a 40-megapixel PNG (8000 x 5000, a light table with a dark object off-centre):
 * decoded and preprocessed as the page does now (in its worker) against the same modules run on the main
 * thread (as the page did before issue 13 item 7), interleaved; for each, the time and the longest wait of a
 * 10 ms timer on the page (how long the page was frozen). Headless Chromium, wasm backend.
 * Usage: npm run -s build && node dist/scripts/bench_page_decode.js [rounds]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { exportWeb } from '../src/web/export.js';
import { serve } from '../src/web/serve.js';
import { launchChromium } from '../test/helpers/browser.js';
import { makeRunFixture } from '../test/helpers/run_fixture.js';

interface Ticks { last: number; max: number; n: number; on: boolean }
type TickWindow = typeof window & { __ticks: Ticks; __blob: Blob };

const rounds = Number(process.argv[2] ?? 3);
const tmp = await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-bench-page-'));
const fixture = await makeRunFixture({ dir: path.join(tmp, 'run') });
const file = path.join(tmp, 'forty.png');
const object = await sharp({ create: { width: 1200, height: 3000, channels: 3, background: '#303030' } }).png().toBuffer();
await sharp({ create: { width: 8000, height: 5000, channels: 3, background: '#e6e6e6' } }).composite([{ input: object, left: 5000, top: 1200 }]).png().toFile(file);
const server = await serve({ dir: (await exportWeb({ run: fixture.dir, compress: false })).out, port: 0 });
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.goto(server.url);
  await page.waitForFunction(() => window.__pageState?.status === 'ready', null, { timeout: 60_000 });
  const startTicks = () => page.evaluate(() => {
    const w = window as TickWindow;
    w.__ticks = { last: performance.now(), max: 0, n: 0, on: true };
    const tick = () => {
      const now = performance.now();
      w.__ticks.max = Math.max(w.__ticks.max, now - w.__ticks.last);
      w.__ticks.last = now;
      w.__ticks.n++;
      if (w.__ticks.on) setTimeout(tick, 10);
    };
    tick();
  });
  const stopTicks = () => page.evaluate(() => {
    const w = window as TickWindow;
    w.__ticks.on = false;
    return w.__ticks;
  });
  const bytes = [...(await readFile(file))];
  await page.evaluate((b) => ((window as TickWindow).__blob = new Blob([new Uint8Array(b)], { type: 'image/png' })), bytes);
  for (let round = 0; round < rounds; round++) {
    await startTicks();
    await page.evaluate(() => (window.__lastPrediction = undefined));
    await page.setInputFiles('#file', file);
    await page.waitForFunction(() => window.__lastPrediction?.source === 'forty.png', null, { timeout: 120_000 });
    const worker = await stopTicks();
    const workerMs = await page.evaluate(() => window.__lastPrediction!.preprocessMs);
    await startTicks();
    const mainMs = await page.evaluate(async () => {
      // Module paths in the exported folder (strings, so tsc leaves them alone).
      const decodePath = './js/web/page/decode.js';
      const pixelsPath = './js/predict/pixels.js';
      const { decodeBlob } = (await import(decodePath)) as typeof import('../src/web/page/decode.js');
      const px = (await import(pixelsPath)) as typeof import('../src/predict/pixels.js');
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      const { image } = await decodeBlob((window as TickWindow).__blob, 'forty.png');
      px.framedInput(image, { inputShape: [1, 28, 28], mean: [0.5], std: [0.5], invert: px.lightBackground(image), fit: 'object' });
      const ms = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 50));
      return ms;
    });
    const main = await stopTicks();
    console.log(`round ${round + 1}: worker ${workerMs.toFixed(0)} ms (page frozen at most ${worker.max.toFixed(0)} ms) | main thread ${mainMs.toFixed(0)} ms (frozen ${main.max.toFixed(0)} ms)`);
  }
} finally {
  await browser.close();
  await server.close();
  await rm(tmp, { recursive: true, force: true });
}
