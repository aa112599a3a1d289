import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { predict } from '../../src/predict/predict.js';
import { exportWeb } from '../../src/web/export.js';
import { serve } from '../../src/web/serve.js';
import { launchChromium } from '../helpers/browser.js';
import { makeRunFixture } from '../helpers/run_fixture.js';

test('with a WebGPU adapter the page runs the model on WebGPU, says so, and matches Node', async () => {
  const fixture = await makeRunFixture({ seed: 4 });
  const server = await serve({ dir: (await exportWeb({ run: fixture.dir })).out, port: 0 });
  const browser = await launchChromium({ webgpu: true });
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForFunction(() => window.__pageState?.status !== 'loading', null, { timeout: 45_000 });
    const state = await page.evaluate(() => window.__pageState);
    assert.deepEqual(state, { status: 'ready', backend: 'webgpu' }, 'Chromium offered no WebGPU adapter: is chromium-common (SwiftShader Vulkan) installed?');
    assert.equal(await page.textContent('#backend'), 'WebGPU');
    const node = await predict({ run: fixture.dir, images: fixture.samples });
    for (const [i, image] of fixture.samples.entries()) {
      await page.setInputFiles('#file', image);
      await page.waitForFunction((s) => window.__lastPrediction?.source === s || window.__pageState.error, path.basename(image), { timeout: 20_000 });
      const last = await page.evaluate(() => ({ p: window.__lastPrediction, error: window.__pageState.error }));
      assert.equal(last.error, undefined);
      assert.equal(last.p!.backend, 'webgpu');
      last.p!.probabilities.forEach((p, k) => assert.ok(Math.abs(p - node[i].probabilities[k]) <= 1e-5, `${image} class ${k}: ${p} vs ${node[i].probabilities[k]}`));
    }
  } finally {
    await browser.close();
    await server.close();
    await rm(fixture.dir, { recursive: true, force: true });
  }
});
