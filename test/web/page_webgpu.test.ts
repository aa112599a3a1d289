import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { predict } from '../../src/predict/predict.js';
import { exportWeb } from '../../src/web/export.js';
import { serve } from '../../src/web/serve.js';
import { launchChromium } from '../helpers/browser.js';
import { makeRunFixture } from '../helpers/run_fixture.js';

test('a software WebGPU adapter (SwiftShader) gets wasm; ?backend=webgpu runs on it, says so, and matches Node', async () => {
  const fixture = await makeRunFixture({ seed: 4 });
  const server = await serve({ dir: (await exportWeb({ run: fixture.dir, compress: false })).out, port: 0 });
  const browser = await launchChromium({ webgpu: true });
  try {
    const auto = await browser.newPage();
    const loaded: string[] = [];
    auto.on('request', (r) => loaded.push(r.url()));
    await auto.goto(server.url);
    await auto.waitForFunction(() => window.__pageState?.status !== 'loading', null, { timeout: 45_000 });
    assert.equal(await auto.evaluate(() => (navigator as unknown as { gpu?: unknown }).gpu !== undefined), true);
    assert.deepEqual(await auto.evaluate(() => window.__pageState), { status: 'ready', backend: 'wasm' }, 'a fallback adapter is no reason to download the WebGPU build');
    assert.ok(!loaded.some((u) => u.includes('jsep')), 'the WebGPU build stays on the server');
    await auto.close();

    const page = await browser.newPage();
    await page.goto(server.url + '?backend=webgpu');
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
