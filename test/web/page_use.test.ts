import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Browser, FileChooser, Page } from 'playwright-core';
import { predict } from '../../src/predict/predict.js';
import type { Server } from '../../src/web/serve.js';
import { servePage, type ServedPage } from '../helpers/served_page.js';
import { makeRunFixture, writeTestImage } from '../helpers/run_fixture.js';

// The page as people use it: on a phone, by keyboard, with a screen reader, with the model's own samples.
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const fixture = await makeRunFixture({ seed: 5, samples: false });
const tmp = await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-use-'));
// Samples named as writeSampleImages names them (<index>-<class slug>.png), and a test accuracy.
const samples = [
  await writeTestImage(path.join(fixture.dir, 'samples', '00-t-shirt-top.png'), { width: 28, height: 28, channels: 1, seed: 31 }),
  await writeTestImage(path.join(fixture.dir, 'samples', '01-trouser.png'), { width: 28, height: 28, channels: 1, seed: 32 }),
  await writeTestImage(path.join(fixture.dir, 'samples', '05-sandal.png'), { width: 28, height: 28, channels: 1, seed: 33 }),
];
await writeFile(path.join(fixture.dir, 'results.json'), JSON.stringify({ test: { acc: 0.8912, loss: 0.3 } }));
let browser: Browser;
let server: Server;
let site: ServedPage | undefined;

before(async () => {
  site = await servePage({ run: fixture.dir, compress: false });
  ({ server, browser } = site);
});

after(async () => {
  await site?.close();
  for (const dir of [fixture.dir, tmp]) await rm(dir, { recursive: true, force: true });
});

async function open(options: { viewport?: { width: number; height: number }; colorScheme?: 'light' | 'dark'; hasTouch?: boolean } = {}): Promise<Page> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1100, height: 820 }, colorScheme: options.colorScheme, hasTouch: options.hasTouch });
  const p = await context.newPage();
  await p.goto(server.url);
  await p.waitForFunction(() => window.__pageState?.status === 'ready', null, { timeout: 45_000 });
  return p;
}

const sampleSelector = (file: string) => `#samples button[data-sample="${path.basename(file)}"]`;

async function classified(p: Page, source: string, action: () => Promise<unknown>): Promise<void> {
  await p.evaluate(() => (window.__lastPrediction = undefined));
  await action();
  await p.waitForFunction((s) => window.__lastPrediction?.source === s, source, { timeout: 20_000 });
}

test('all classes get a bar; the test accuracy is shown; samples are named by class and marked right or wrong', async () => {
  const p = await open();
  try {
    assert.match((await p.textContent('#subtitle'))!, /89\.1 % right on the test set/);
    const labels = await p.$$eval('#samples button', (bs) => bs.map((b) => b.getAttribute('aria-label')));
    assert.deepEqual(labels, ['Sample: T-shirt/top', 'Sample: Trouser', 'Sample: Sandal']);
    const node = await predict({ run: fixture.dir, images: samples, top: 10 });
    for (const [i, file] of samples.entries()) {
      await classified(p, path.basename(file), () => p.click(sampleSelector(file)));
      assert.equal(await p.locator('#bars li').count(), 10);
      const shown = await p.$$eval('#bars li b', (bs) => bs.map((b) => b.textContent));
      assert.deepEqual(shown, node[i].top.map((t) => t.label), 'bars in order of probability');
      const truth = ['T-shirt/top', 'Trouser', 'Sandal'][i];
      const right = node[i].top[0].label === truth;
      assert.equal(await p.getAttribute(sampleSelector(file), 'data-verdict'), right ? 'right' : 'wrong');
      const summary = (await p.textContent('#summary'))!;
      assert.ok(summary.endsWith(right ? `right, it is ${truth}` : `wrong, it is ${truth}`), summary);
      const confident = node[i].top[0].probability >= 0.5;
      assert.equal(summary.startsWith('Not sure: best guess'), !confident, summary);
    }
  } finally {
    await p.context().close();
  }
});

test('axe-core finds no violations, in the light and the dark theme, before and after a result', async () => {
  for (const colorScheme of ['light', 'dark'] as const) {
    const p = await open({ colorScheme });
    try {
      const audit = async (when: string) => {
        await p.addScriptTag({ path: AXE });
        const { violations, passes } = await p.evaluate(async () => {
          type Rule = { id: string; nodes: { target: string[] }[] };
          const axe = (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: Rule[]; passes: Rule[] }> } }).axe;
          const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
          return { violations: r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), passes: r.passes.map((v) => v.id) };
        });
        assert.deepEqual(violations, [], `${colorScheme}, ${when}`);
        assert.ok(passes.includes('color-contrast') && passes.length >= 20, `axe checked too little: ${passes}`);
      };
      await audit('ready');
      await classified(p, path.basename(samples[1]), () => p.click(sampleSelector(samples[1])));
      await audit('with a result');
      if (colorScheme === 'dark') assert.equal(await p.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(17, 20, 27)');
    } finally {
      await p.context().close();
    }
  }
});

test('keyboard only: the first Tab stop shows focus and opens the file chooser; samples are reachable and show focus', async () => {
  const p = await open();
  try {
    // Listen before any key is pressed: Playwright turns on file-chooser interception asynchronously when the
    // first listener is added, and a chooser opened before that is a real (invisible) dialog, not an event.
    const chooser = new Promise<FileChooser>((resolve) => p.once('filechooser', resolve));
    await p.keyboard.press('Tab');
    assert.equal(await p.evaluate(() => document.activeElement?.id), 'file');
    assert.equal(await p.evaluate(() => getComputedStyle(document.getElementById('drop')!).outlineStyle), 'solid', 'the drop box shows that the file input has focus');
    await p.keyboard.press('Space');
    await classified(p, path.basename(samples[0]), async () => (await chooser).setFiles(samples[0]));
    // Tab on to the first sample button and press Enter.
    for (let i = 0; i < 10 && !(await p.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.sample)); i++) await p.keyboard.press('Tab');
    assert.equal(await p.evaluate(() => (document.activeElement as HTMLElement).dataset.sample), path.basename(samples[0]));
    const outline = await p.evaluate(() => { const s = getComputedStyle(document.activeElement!); return `${s.outlineStyle} ${s.outlineWidth}`; });
    assert.equal(outline, 'solid 3px');
    await p.evaluate(() => (window.__lastPrediction = undefined));
    await p.keyboard.press('ArrowRight'); // nothing happens, and nothing breaks
    await p.keyboard.press('Tab');
    await classified(p, path.basename(samples[1]), () => p.keyboard.press('Enter'));
    assert.equal(await p.getAttribute('#summary', 'role'), 'status', 'results are announced');
  } finally {
    await p.context().close();
  }
});

test('on a 375x667 phone the answer is in view after tapping a sample and after drawing', async () => {
  const p = await open({ viewport: { width: 375, height: 667 }, hasTouch: true });
  try {
    const inView = async () => {
      const box = await p.locator('#summary').boundingBox();
      return box !== null && box.y >= 0 && box.y + box.height <= 667 && (await p.isVisible('#summary'));
    };
    await p.locator(sampleSelector(samples[2])).scrollIntoViewIfNeeded();
    await classified(p, path.basename(samples[2]), () => p.tap(sampleSelector(samples[2])));
    assert.ok(await inView(), 'the result after a sample');
    await p.click('#clear');
    await p.locator('#pad').scrollIntoViewIfNeeded();
    const box = (await p.locator('#pad').boundingBox())!;
    await classified(p, 'drawing', async () => {
      await p.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.2);
      await p.mouse.down();
      await p.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.8, { steps: 8 });
      await p.mouse.up();
    });
    assert.ok(await inView(), 'the result after drawing');
    // The pinned line does not cover the pad's drawing area when the pad is scrolled into view.
    const summary = (await p.locator('#summary').boundingBox())!;
    const pad = (await p.locator('#pad').boundingBox())!;
    assert.ok(pad.y + pad.height <= summary.y + 1 || pad.y >= summary.y + summary.height, `pad ${JSON.stringify(pad)} under summary ${JSON.stringify(summary)}`);
  } finally {
    await p.context().close();
  }
});

test('an error banner moves nothing: the pad stays where it was, and a stroke lands where it is drawn', async () => {
  const p = await open();
  try {
    const before = (await p.locator('#pad').boundingBox())!;
    const text = path.join(tmp, 'notes.txt');
    await writeFile(text, 'not an image');
    await p.setInputFiles('#file', text);
    await p.waitForFunction(() => window.__pageState.error);
    assert.equal(await p.isVisible('#error'), true);
    const after = (await p.locator('#pad').boundingBox())!;
    assert.deepEqual(after, before);
    await p.click('#clear');
    // A horizontal stroke across the middle row lights that row of the pad and leaves the top rows dark.
    await p.mouse.move(after.x + after.width * 0.2, after.y + after.height * 0.5);
    await p.mouse.down();
    await p.mouse.move(after.x + after.width * 0.8, after.y + after.height * 0.5, { steps: 6 });
    await p.mouse.up();
    const rows = await p.evaluate(() => {
      const c = document.getElementById('pad') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const lit: number[] = [];
      for (let y = 0; y < c.height; y++) if (d[(y * c.width + c.width / 2) * 4] > 0) lit.push(y);
      return [lit[0], lit[lit.length - 1]];
    });
    assert.ok(rows[0] >= 115 && rows[1] <= 165, `stroke at rows ${rows}`);
  } finally {
    await p.context().close();
  }
});
