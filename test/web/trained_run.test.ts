import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { serve } from '../../src/web/serve.js';
import { launchChromium } from '../helpers/browser.js';

// From a fresh run to the page, all through the real commands: train, export-web, predict; then the page.
const CLI = join(process.cwd(), 'dist/src/cli/bin.js');
const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') || existsSync('data/fashion-mnist/train-images-idx3-ubyte.gz');
const root = mkdtempSync(join(tmpdir(), 'onnxtrain-e2e-'));
after(() => rmSync(root, { recursive: true, force: true }));
const cli = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

test('train -> export-web -> page: the page classifies the run\'s samples exactly as predict does', { skip: HAVE_DATA ? false : 'apt-get install dataset-fashion-mnist' }, async () => {
  const run = join(root, 'run');
  cli('train', 'basic-cnn', '--epochs', '1', '--limit', '3000', '--batchnorm', '--out', run);
  const web = join(root, 'web');
  cli('export-web', run, '--out', web);
  assert.ok(readFileSync(join(web, 'model.onnx')).equals(readFileSync(join(run, 'model.onnx'))), 'exported model.onnx differs from the run\'s');
  const samples = readdirSync(join(run, 'samples')).sort().map((f) => join(run, 'samples', f));
  assert.equal(samples.length, 10);
  const node = JSON.parse(cli('predict', run, ...samples, '--json')) as { image: string; probabilities: number[] }[];

  const server = await serve({ dir: web, port: 0 });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForFunction(() => window.__pageState?.status !== 'loading', null, { timeout: 45_000 });
    assert.equal((await page.evaluate(() => window.__pageState)).status, 'ready');
    let agree = 0;
    for (const [i, file] of samples.entries()) {
      const name = file.split('/').pop()!;
      await page.evaluate(() => (window.__lastPrediction = undefined));
      await page.click(`#samples button[data-sample="${name}"]`);
      await page.waitForFunction((s) => window.__lastPrediction?.source === s, name, { timeout: 20_000 });
      const probs = await page.evaluate(() => window.__lastPrediction!.probabilities);
      probs.forEach((p, k) => assert.ok(Math.abs(p - node[i].probabilities[k]) <= 1e-5, `${name} class ${k}: page ${p} vs predict ${node[i].probabilities[k]}`));
      const top = probs.indexOf(Math.max(...probs));
      if (name.includes(String(i).padStart(2, '0'))) agree += top === i ? 1 : 0;
    }
    // One epoch on 2.5k images already classifies most samples (one per class) correctly.
    assert.ok(agree >= 6, `only ${agree}/10 samples classified as their class`);
  } finally {
    await browser.close();
    await server.close();
  }
});
