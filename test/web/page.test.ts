import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { predict } from '../../src/predict/predict.js';
import { exportWeb } from '../../src/web/export.js';
import { serve, type Server } from '../../src/web/serve.js';
import { servePage, type ServedPage } from '../helpers/served_page.js';
import { makeRunFixture, writeTestImage } from '../helpers/run_fixture.js';
import { hugePngHeader } from '../predict/huge_png.js';
import { trouserPhoto } from '../predict/trouser_photo.js';
import { dropFiles, recordWire } from './page_helpers.js';

const ARTIFACTS = path.resolve('test-artifacts');
const TOL = 1e-5;

const fixture = await makeRunFixture();
const tmp = await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-page-'));
let browser: Browser;
let server: Server;
let site: ServedPage | undefined;
let page: Page;
let out: string;
const cleanup: string[] = [];

before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  site = await servePage({ run: fixture.dir });
  ({ out, server, browser } = site);
  page = await browser.newPage({ viewport: { width: 1100, height: 820 } });
  await page.goto(server.url);
  await page.waitForFunction(() => window.__pageState?.status !== 'loading', null, { timeout: 45_000 });
});

after(async () => {
  await site?.close();
  for (const dir of [fixture.dir, tmp, ...cleanup]) await rm(dir, { recursive: true, force: true });
});

/** Wait for a new result for `source` after `action`, and return its probabilities. */
async function resultAfter(source: string, action: () => Promise<unknown>): Promise<number[]> {
  await page.evaluate(() => (window.__lastPrediction = undefined));
  await action();
  await page.waitForFunction((s) => window.__lastPrediction?.source === s || window.__pageState.error, source, { timeout: 20_000 });
  const state = await page.evaluate(() => window.__pageState);
  assert.equal(state.error, undefined, `page error: ${state.error}`);
  return page.evaluate(() => window.__lastPrediction!.probabilities);
}

function assertClose(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((p, k) => assert.ok(Math.abs(p - expected[k]) <= TOL, `${what}, class ${k}: page ${p} vs node ${expected[k]}`));
}

test('the page loads the model on wasm (no GPU in headless Chromium) and says so', async () => {
  const state = await page.evaluate(() => window.__pageState);
  assert.deepEqual(state, { status: 'ready', backend: 'wasm' });
  assert.equal(await page.textContent('#backend'), 'WebAssembly (CPU)');
  assert.equal(await page.locator('#samples button').count(), 3);
});

test('a cold load moves at most 5 MB over the wire (plain wasm, compressed); a reload under 100 kB', async () => {
  const context = await browser.newContext();
  const p = await context.newPage();
  try {
    const wire = await recordWire(p);
    await p.goto(server.url);
    await p.waitForFunction(() => window.__pageState?.status !== 'loading', null, { timeout: 45_000 });
    assert.equal((await p.evaluate(() => window.__pageState)).backend, 'wasm');
    await p.waitForLoadState('networkidle');
    const cold = wire.bytes();
    const names = wire.requests.map((r) => r.url.replace(server.url, ''));
    assert.ok(!names.some((n) => n.includes('jsep') || n.endsWith('ort.min.mjs')), `the WebGPU build was loaded without a GPU: ${names}`);
    const wasm = wire.requests.find((r) => r.url.endsWith('ort-wasm-simd-threaded.wasm'));
    assert.equal(wasm?.encoding, 'br', 'the wasm binary came compressed');
    wire.requests.length = 0;
    await p.reload();
    await p.waitForFunction(() => window.__pageState?.status === 'ready', null, { timeout: 45_000 });
    await p.waitForLoadState('networkidle');
    const reload = wire.bytes();
    console.log(`# wire bytes: cold ${cold}, reload ${reload} (${wire.requests.length} requests, ${wire.requests.filter((r) => r.status === 304).length} answered 304)`);
    assert.ok(cold <= 5e6, `cold load moved ${cold} bytes`);
    assert.ok(reload < 100e3, `reload moved ${reload} bytes: ${JSON.stringify(wire.requests)}`);
  } finally {
    await context.close();
  }
});

test('at 20 Mbit/s the page is ready in seconds (target 3 s)', async () => {
  const context = await browser.newContext();
  const p = await context.newPage();
  try {
    const cdp = await context.newCDPSession(p);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: 20e6 / 8, uploadThroughput: 5e6 / 8 });
    const t0 = Date.now();
    await p.goto(server.url);
    await p.waitForFunction(() => window.__pageState?.status !== 'loading', null, { timeout: 45_000 });
    const ms = Date.now() - t0;
    console.log(`# ready after ${ms} ms at 20 Mbit/s`);
    assert.equal((await p.evaluate(() => window.__pageState)).status, 'ready');
    // The target is 3 s (2.7-2.9 s measured on an idle 2-core machine); the bound leaves room for a busy
    // shared one while still catching a return to the 30 MB page (15 s at this speed).
    assert.ok(ms <= 8000, `ready after ${ms} ms`);
  } finally {
    await context.close();
  }
});

test('uploaded images give the same probabilities as predict() in Node', async () => {
  const jpeg = await writeTestImage(path.join(tmp, 'photo.jpg'), { width: 90, height: 60, channels: 3, seed: 21, format: 'jpeg' });
  const webp = await writeTestImage(path.join(tmp, 'lossless.webp'), { width: 40, height: 41, channels: 3, seed: 22, format: 'webp' });
  const transparent = await writeTestImage(path.join(tmp, 'see-through.png'), { width: 50, height: 40, channels: 4, seed: 23 });
  const images = [...fixture.samples, jpeg, webp, transparent];
  const node = await predict({ run: fixture.dir, images });
  for (const [i, image] of images.entries()) {
    const probs = await resultAfter(path.basename(image), () => page.setInputFiles('#file', image));
    assertClose(probs, node[i].probabilities, path.basename(image));
    const top = await page.evaluate(() => window.__lastPrediction!.top.map((t) => t.label));
    assert.deepEqual(top, node[i].top.map((t) => t.label));
  }
  await page.screenshot({ path: path.join(ARTIFACTS, 'web-page.png') });
});

test('clicking a sample and ticking invert match predict() with the same settings', async () => {
  const node = await predict({ run: fixture.dir, images: [fixture.samples[2]] });
  const inverted = await predict({ run: fixture.dir, images: [fixture.samples[2]], invert: true });
  const name = path.basename(fixture.samples[2]);
  assertClose(await resultAfter(name, () => page.click(`#samples button[data-sample="${name}"]`)), node[0].probabilities, `sample ${name}`);
  assertClose(await resultAfter(name, () => page.check('#invert')), inverted[0].probabilities, `inverted ${name}`);
  assert.equal(await page.evaluate(() => window.__lastPrediction!.invert), true);
  await page.uncheck('#invert');
  await page.waitForFunction(() => window.__lastPrediction?.invert === false);
  assert.equal(await page.locator('#bars li').count(), fixture.config.classNames.length, 'a bar for every class');
});

test('a photo on a light background is inverted by default, saying so, exactly as predict does; the user can untick it', async () => {
  const sharp = (await import('sharp')).default;
  const dark = await writeTestImage(path.join(tmp, 'dark-bg.png'), { width: 60, height: 40, channels: 3, seed: 71 });
  const light = path.join(tmp, 'light-bg.png');
  await sharp(dark).negate({ alpha: false }).png().toFile(light);
  const [auto] = await predict({ run: fixture.dir, images: [light] });
  const [plain] = await predict({ run: fixture.dir, images: [light], invert: false });
  assert.equal(auto.inverted, true);
  assert.equal((await predict({ run: fixture.dir, images: [dark] }))[0].inverted, false);
  assertClose(await resultAfter('light-bg.png', () => page.setInputFiles('#file', light)), auto.probabilities, 'light-bg.png, inverted automatically');
  assert.equal(await page.isChecked('#invert'), true);
  assert.match((await page.textContent('#seen-note'))!, /Light background found, so the colours are inverted/);
  assertClose(await resultAfter('light-bg.png', () => page.uncheck('#invert')), plain.probabilities, 'light-bg.png, not inverted');
  assertClose(await resultAfter('dark-bg.png', () => page.setInputFiles('#file', dark)), (await predict({ run: fixture.dir, images: [dark] }))[0].probabilities, 'dark-bg.png');
  assert.equal(await page.isChecked('#invert'), false);
});

test('a drawing is classified as Node classifies the same pixels', async () => {
  const box = (await page.locator('#pad').boundingBox())!;
  await page.click('#clear');
  await page.evaluate(() => (window.__lastPrediction = undefined));
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.2);
  await page.mouse.down();
  for (let t = 0; t <= 1; t += 0.1) await page.mouse.move(box.x + box.width * (0.3 + 0.4 * t), box.y + box.height * (0.2 + 0.6 * t));
  await page.mouse.up();
  await page.waitForFunction(() => window.__lastPrediction?.source === 'drawing');
  // Let the last stroke's classification finish, then read the pad's pixels back as a PNG.
  await page.waitForTimeout(300);
  const probs = await page.evaluate(() => window.__lastPrediction!.probabilities);
  const png = await page.evaluate(() => (document.getElementById('pad') as HTMLCanvasElement).toDataURL('image/png'));
  const file = path.join(tmp, 'drawing.png');
  await writeFile(file, Buffer.from(png.split(',')[1], 'base64'));
  const [node] = await predict({ run: fixture.dir, images: [file] });
  assertClose(probs, node.probabilities, 'drawing');
});

test('a colour (3-channel) model gives the same numbers in the page as in Node, framed by the fit its run recorded', async () => {
  const colour = await makeRunFixture({ inputShape: [3, 32, 32], seed: 7, fit: 'crop' });
  cleanup.push(colour.dir);
  const colourOut = (await exportWeb({ run: colour.dir, compress: false })).out;
  const colourServer = await serve({ dir: colourOut, port: 0 });
  const p = await browser.newPage();
  try {
    await p.goto(colourServer.url);
    await p.waitForFunction(() => window.__pageState?.status === 'ready', null, { timeout: 45_000 });
    const node = await predict({ run: colour.dir, images: colour.samples });
    const stretched = await predict({ run: colour.dir, images: colour.samples, fit: 'stretch' });
    for (const [i, image] of colour.samples.entries()) {
      await p.setInputFiles('#file', image);
      await p.waitForFunction((s) => window.__lastPrediction?.source === s, path.basename(image));
      assert.equal(node[i].fit, 'crop');
      assert.equal(await p.evaluate(() => window.__lastPrediction!.fit), 'crop');
      assertClose(await p.evaluate(() => window.__lastPrediction!.probabilities), node[i].probabilities, `colour ${path.basename(image)}`);
    }
    // The two samples that are not square (64 x 48, 20 x 36) would give other numbers stretched.
    for (const i of [1, 2]) assert.ok(stretched[i].logits.some((q, k) => Math.abs(q - node[i].logits[k]) > 0.01), `${colour.samples[i]}: crop and stretch give other logits`);
  } finally {
    await p.close();
    await colourServer.close();
  }
});

test('several dropped files are each classified into a gallery; a drop outside the box stays on the page', async () => {
  const url = page.url();
  await page.evaluate(() => (window.__predictions = undefined));
  await dropFiles(page, 'footer', fixture.samples);
  await page.waitForFunction((n) => window.__predictions?.length === n || window.__pageState.error, fixture.samples.length, { timeout: 20_000 });
  assert.equal(page.url(), url);
  const node = await predict({ run: fixture.dir, images: fixture.samples });
  const got = await page.evaluate(() => window.__predictions!);
  assert.deepEqual(got.map((g) => g.source), fixture.samples.map((f) => path.basename(f)));
  got.forEach((g, i) => assertClose(g.probabilities, node[i].probabilities, `dropped ${g.source}`));
  assert.equal(await page.locator('#gallery li').count(), fixture.samples.length);
  assert.match((await page.textContent('#gallery li:first-child'))!, new RegExp(node[0].top[0].label));
  // One file after that is an ordinary result again.
  await resultAfter(path.basename(fixture.samples[0]), () => page.setInputFiles('#file', fixture.samples[0]));
  assert.equal(await page.isVisible('#gallery'), false);
});

test('a file that is not an image gets a clear message', async () => {
  const text = path.join(tmp, 'notes.txt');
  await writeFile(text, 'not an image');
  await page.setInputFiles('#file', text);
  await page.waitForFunction(() => window.__pageState.error);
  const banner = await page.textContent('#error');
  assert.match(banner!, /“notes\.txt” is not an image this browser can read/);
  assert.equal(await page.isVisible('#error'), true);
  // A good image clears the message.
  await resultAfter(path.basename(fixture.samples[0]), async () => {
    await page.evaluate(() => (window.__pageState.error = undefined));
    await page.setInputFiles('#file', fixture.samples[0]);
  });
  assert.equal(await page.isVisible('#error'), false);
});

test('an image over the pixel limit and an SVG are refused at once, each with the reason and the fix', async () => {
  const huge = path.join(tmp, 'poster.png');
  await writeFile(huge, hugePngHeader(20000, 20000));
  const svg = path.join(tmp, 'logo.svg');
  await writeFile(svg, '<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><circle cx="14" cy="14" r="9" fill="#fff"/></svg>');
  for (const [file, message] of [
    [huge, /“poster\.png” is 20000×20000 \(400 megapixels\); images up to 50 megapixels can be classified\. Shrink it first/],
    [svg, /“logo\.svg” is an SVG drawing; this page classifies pixel images\. Export it as a PNG first/],
  ] as const) {
    await page.evaluate(() => (window.__pageState.error = undefined));
    const t0 = Date.now();
    await page.setInputFiles('#file', file);
    await page.waitForFunction(() => window.__pageState.error, null, { timeout: 5_000 });
    assert.ok(Date.now() - t0 < 5000, `${file}: ${Date.now() - t0} ms`);
    assert.match((await page.textContent('#error'))!, message);
  }
});

test('the time shown includes preprocessing', async () => {
  await page.evaluate(() => (window.__pageState.error = undefined));
  await resultAfter(path.basename(fixture.samples[1]), () => page.setInputFiles('#file', fixture.samples[1]));
  const last = await page.evaluate(() => window.__lastPrediction!);
  assert.ok(last.preprocessMs > 0);
  assert.match((await page.textContent('#timing'))!, /^Preprocessing \d+\.\d ms, inference \d+\.\d ms on WebAssembly \(CPU\)$/);
});

test('a photo is shown on the pad, inverted, cropped to its object and centred, as predict does to 1e-5', async () => {
  const file = await trouserPhoto(path.join(tmp, 'trousers.png'));
  const [node] = await predict({ run: fixture.dir, images: [file] });
  assert.deepEqual([node.inverted, node.fit, node.cropped], [true, 'object', true]);
  assertClose(await resultAfter('trousers.png', () => page.setInputFiles('#file', file)), node.probabilities, 'trousers.png');
  const last = await page.evaluate(() => window.__lastPrediction!);
  assert.deepEqual([last.invert, last.fit, last.frame.cropped], [true, 'object', true]);
  assert.match((await page.textContent('#seen-note'))!, /Light background found, so the colours are inverted.*Cropped to the object and centred in a square/);
  // The pad shows the photo itself (light table, fitted), not the previous drawing.
  const corner = await page.evaluate(() => Array.from((document.getElementById('pad') as HTMLCanvasElement).getContext('2d')!.getImageData(140, 5, 1, 1).data));
  assert.ok(corner[0] > 200, `pad pixel near the top centre is the light table: ${corner}`);
  const stretched = await predict({ run: fixture.dir, images: [file], fit: 'stretch' });
  assert.ok(Math.max(...stretched[0].probabilities.map((p, k) => Math.abs(p - node.probabilities[k]))) > 1e-3, 'the framing changes the answer');
  // Drawing after it starts on a black pad again.
  const box = (await page.locator('#pad').boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.1, box.y + box.height * 0.1);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.15);
  await page.mouse.up();
  await page.waitForFunction(() => window.__lastPrediction?.source === 'drawing');
  await page.waitForTimeout(300);
  const after = await page.evaluate(() => Array.from((document.getElementById('pad') as HTMLCanvasElement).getContext('2d')!.getImageData(140, 270, 1, 1).data));
  assert.deepEqual(after.slice(0, 3), [0, 0, 0], 'the photo was cleared');
  const drawn = await page.evaluate(() => window.__lastPrediction!);
  assert.equal(drawn.frame.cropped, true, 'the stroke in the corner is centred by its bounding box');
  assert.match((await page.textContent('#seen-note'))!, /Centred by its bounding box/);
});

test('a 40-megapixel photo is decoded off the main thread: the page keeps ticking, the answer equals predict', async () => {
  const sharp = (await import('sharp')).default;
  const file = path.join(tmp, 'forty.png');
  // 8000 x 5000, a light table with a dark object off-centre: flat colour, so the PNG is under 1 MB.
  const object = await sharp({ create: { width: 1200, height: 3000, channels: 3, background: '#303030' } }).png().toBuffer();
  await sharp({ create: { width: 8000, height: 5000, channels: 3, background: '#e6e6e6' } }).composite([{ input: object, left: 5000, top: 1200 }]).png().toFile(file);
  const t0 = Date.now();
  const [node] = await predict({ run: fixture.dir, images: [file] });
  const nodeMs = Date.now() - t0;
  await page.evaluate(() => {
    const w = window as unknown as { __ticks: { last: number; max: number; n: number; on: boolean } };
    w.__ticks = { last: performance.now(), max: 0, n: 0, on: true };
    const tick = () => {
      const t = w.__ticks;
      const now = performance.now();
      t.max = Math.max(t.max, now - t.last);
      t.last = now;
      t.n++;
      if (t.on) setTimeout(tick, 10);
    };
    tick();
  });
  const probs = await resultAfter('forty.png', () => page.setInputFiles('#file', file));
  const ticks = await page.evaluate(() => {
    const t = (window as unknown as { __ticks: { max: number; n: number; on: boolean } }).__ticks;
    t.on = false;
    return t;
  });
  const last = await page.evaluate(() => window.__lastPrediction!);
  console.log(`# 40 MP: page preprocessing ${last.preprocessMs.toFixed(0)} ms (shown), longest main-thread gap ${ticks.max.toFixed(0)} ms over ${ticks.n} ticks; Node predict ${nodeMs} ms`);
  assertClose(probs, node.probabilities, 'forty.png');
  assert.equal(last.frame.cropped, true);
  assert.match((await page.textContent('#timing'))!, new RegExp(`^Preprocessing ${last.preprocessMs.toFixed(1)} ms`));
  // Decoding on the main thread froze it for seconds; a timer firing every 10 ms now waits at most a
  // scheduling hiccup (the bound is loose for a busy shared machine; the log line gives the figure).
  assert.ok(ticks.n > 20, `${ticks.n} ticks`);
  assert.ok(ticks.max < 500, `the main thread stalled for ${ticks.max.toFixed(0)} ms`);
});

test('a model that fails to load is reported on the page', async () => {
  const broken = path.join(tmp, 'broken');
  await cp(out, broken, { recursive: true });
  await writeFile(path.join(broken, 'model.onnx'), 'this is not an onnx model');
  for (const ext of ['.br', '.gz']) await rm(path.join(broken, 'model.onnx' + ext));
  const brokenServer = await serve({ dir: broken, port: 0 });
  const p = await browser.newPage();
  try {
    await p.goto(brokenServer.url);
    await p.waitForFunction(() => window.__pageState?.status === 'error', null, { timeout: 45_000 });
    assert.match((await p.textContent('#error'))!, /The model failed to load/);
    assert.equal(await p.textContent('#backend'), 'Model failed to load');
  } finally {
    await p.close();
    await brokenServer.close();
  }
});

