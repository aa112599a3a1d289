import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { predict } from '../../src/predict/predict.js';
import type { Server } from '../../src/web/serve.js';
import { servePage, type ServedPage } from '../helpers/served_page.js';
import { makeRunFixture } from '../helpers/run_fixture.js';
import { dropFiles } from './page_helpers.js';

// What happens before the model is ready: opening from disk, no JavaScript, a script that never starts,
// input given while loading, and what ?backend= asks for.
const fixture = await makeRunFixture({ seed: 3 });
let out: string;
let browser: Browser;
let server: Server;
let site: ServedPage | undefined;

before(async () => {
  // Serve the run folder, so the page lives at /web/.
  site = await servePage({ run: fixture.dir, compress: false }, fixture.dir);
  ({ out, server, browser } = site);
});

after(async () => {
  await site?.close();
  await rm(fixture.dir, { recursive: true, force: true });
});

async function withPage(fn: (p: Page) => Promise<void>, options: { javaScriptEnabled?: boolean } = {}): Promise<void> {
  const context = await browser.newContext(options);
  try {
    await fn(await context.newPage());
  } finally {
    await context.close();
  }
}

const settled = (p: Page) => p.waitForFunction(() => window.__pageState && window.__pageState.status !== 'loading', null, { timeout: 45_000 });

test('opened from disk (file://), the page says at once how to open it', async () => {
  await withPage(async (p) => {
    await p.goto(pathToFileURL(path.join(out, 'index.html')).href, { waitUntil: 'domcontentloaded' });
    // Already there as the document finishes parsing: no waiting on anything.
    assert.equal(await p.evaluate(() => window.__pageState?.status), 'error');
    const banner = (await p.textContent('#error'))!;
    assert.match(banner, /opened from disk \(file:\/\/\)/);
    assert.ok(banner.includes(`npm run serve -- ${out}`), banner);
    assert.match(banner, /any static host/);
    assert.equal(await p.textContent('#backend'), 'Cannot start');
  });
});

test('without JavaScript the page says it needs it', async () => {
  await withPage(async (p) => {
    await p.goto(server.url + 'web/');
    assert.equal(await p.isVisible('noscript .banner, .banner:has-text("Turn JavaScript on")'), true);
    assert.match((await p.textContent('body'))!, /Turn JavaScript on for this site and reload/);
  }, { javaScriptEnabled: false });
});

test('a page script that never starts is reported after 20 s; one that is missing at once', async () => {
  await withPage(async (p) => {
    await p.clock.install();
    await p.route('**/js/web/page/app.js', () => {}); // never answered
    // A module script holds DOMContentLoaded back, so wait only for the classic script's timer.
    await p.goto(server.url + 'web/', { waitUntil: 'commit' });
    await p.waitForFunction(() => typeof (window as unknown as { __pageStop?: unknown }).__pageStop === 'function');
    assert.equal(await p.evaluate(() => window.__pageState), undefined, 'nothing reported before the timeout');
    await p.clock.runFor(21_000);
    await p.waitForFunction(() => window.__pageState?.status === 'error');
    assert.match((await p.textContent('#error'))!, /script did not start within 20 s/);
  });
  await withPage(async (p) => {
    await p.route('**/js/web/page/app.js', (r) => r.fulfill({ status: 404, body: 'gone' }));
    await p.goto(server.url + 'web/');
    await p.waitForFunction(() => window.__pageState?.status === 'error', null, { timeout: 5_000 });
    assert.match((await p.textContent('#error'))!, /js\/web\/page\/app\.js\) could not be loaded/);
  });
});

test('/web redirects to /web/ and the page works there', async () => {
  await withPage(async (p) => {
    await p.goto(server.url + 'web');
    assert.equal(p.url(), server.url + 'web/');
    await settled(p);
    assert.equal((await p.evaluate(() => window.__pageState)).status, 'ready');
  });
});

test('while the model loads the controls are visibly off; a drop is queued and classified when ready', async () => {
  await withPage(async (p) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await p.route('**/ort-wasm-simd-threaded.wasm', async (route) => {
      await gate;
      await route.continue();
    });
    await p.goto(server.url + 'web/');
    await p.waitForSelector('#progress:not([hidden])');
    assert.equal(await p.evaluate(() => window.__pageState.status), 'loading');
    assert.equal(await p.isDisabled('#file'), true);
    assert.equal(await p.isDisabled('#invert'), true);
    assert.equal(await p.isVisible('#controls-note'), true);
    assert.equal(await p.evaluate(() => getComputedStyle(document.getElementById('pad')!.parentElement!).opacity), '0.45');
    // A stroke on the disabled pad draws nothing.
    const box = (await p.locator('#pad').boundingBox())!;
    await p.mouse.move(box.x + 50, box.y + 50);
    await p.mouse.down();
    await p.mouse.move(box.x + 200, box.y + 200, { steps: 5 });
    await p.mouse.up();
    const lit = await p.evaluate(() => {
      const c = document.getElementById('pad') as HTMLCanvasElement;
      return c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 !== 3 && v > 0);
    });
    assert.equal(lit, false, 'the pad drew while the model was loading');

    const image = fixture.samples[1];
    await dropFiles(p, '#drop', [image]);
    assert.match((await p.textContent('#source'))!, /waiting for the model to load/);
    release();
    await p.waitForFunction((s) => window.__lastPrediction?.source === s, path.basename(image), { timeout: 45_000 });
    const [node] = await predict({ run: fixture.dir, images: [image] });
    const probs = await p.evaluate(() => window.__lastPrediction!.probabilities);
    probs.forEach((v, k) => assert.ok(Math.abs(v - node.probabilities[k]) <= 1e-5, `class ${k}: ${v} vs ${node.probabilities[k]}`));
    assert.equal(await p.isDisabled('#file'), false);
    assert.equal(await p.isVisible('#controls-note'), false);
  });
});

test('a file dropped before config.json has arrived is prepared and classified once it has', async () => {
  await withPage(async (p) => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await p.route('**/config.json', async (route) => {
      await gate;
      await route.continue();
    });
    await p.goto(server.url + 'web/');
    await p.waitForFunction(() => window.__pageStarted === true);
    const image = fixture.samples[2];
    await dropFiles(p, '#drop', [image]);
    release();
    await p.waitForFunction((s) => window.__lastPrediction?.source === s || window.__pageState.error, path.basename(image), { timeout: 45_000 });
    assert.equal(await p.evaluate(() => window.__pageState.error), undefined);
    const [node] = await predict({ run: fixture.dir, images: [image] });
    const probs = await p.evaluate(() => window.__lastPrediction!.probabilities);
    probs.forEach((v, k) => assert.ok(Math.abs(v - node.probabilities[k]) <= 1e-5, `class ${k}: ${v} vs ${node.probabilities[k]}`));
  });
});

test('?backend=webgpu without a GPU falls back to wasm and says why; an unknown backend is refused', async () => {
  await withPage(async (p) => {
    await p.goto(server.url + 'web/?backend=webgpu');
    await settled(p);
    const state = await p.evaluate(() => window.__pageState);
    assert.equal(state.status, 'ready');
    assert.equal(state.backend, 'wasm');
    assert.match(state.notice!, /WebGPU was asked for \(\?backend=webgpu\), but this browser offers no WebGPU adapter/);
    assert.equal(await p.isVisible('#notice'), true);
    assert.equal(await p.textContent('#backend'), 'WebAssembly (CPU)');
    assert.equal(await p.isVisible('#error'), false);
  });
  await withPage(async (p) => {
    await p.goto(server.url + 'web/?backend=cuda');
    await settled(p);
    const state = await p.evaluate(() => window.__pageState);
    assert.equal(state.backend, 'wasm');
    assert.match(state.notice!, /“\?backend=cuda” is not a backend this page has; use \?backend=wasm or \?backend=webgpu/);
  });
});
