import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { exportWeb } from '../../src/web/export.js';
import { makeRunFixture, writeTestImage } from '../helpers/run_fixture.js';

const fixture = await makeRunFixture();
after(() => rm(fixture.dir, { recursive: true, force: true }));

test('the export is a self-contained page: model byte-identical, config, runtime, page modules, samples', async () => {
  const res = await exportWeb({ run: fixture.dir });
  assert.equal(res.out, path.join(fixture.dir, 'web'));
  for (const f of ['index.html', 'style.css', 'config.json', 'model.onnx', 'js/web/page/app.js', 'js/predict/pixels.js', 'ort/ort.min.mjs']) {
    assert.ok(res.files.includes(f), `missing ${f}`);
  }
  assert.ok(res.files.some((f) => /^ort\/ort-wasm-.*\.wasm$/.test(f)), 'a wasm binary');
  assert.ok(res.files.some((f) => /^ort\/ort-wasm-.*\.mjs$/.test(f)), 'the wasm helper module');
  assert.equal(res.files.filter((f) => f.startsWith('ort/')).length, 3, 'only the runtime files the page loads');
  assert.deepEqual(await readFile(path.join(res.out, 'model.onnx')), await readFile(path.join(fixture.dir, 'model.onnx')));

  const config = JSON.parse(await readFile(path.join(res.out, 'config.json'), 'utf8'));
  assert.deepEqual(config.classNames, fixture.config.classNames);
  assert.deepEqual(config.inputShape, [1, 28, 28]);
  assert.deepEqual(config.normalization, { mean: [0.5], std: [0.5] });
  assert.equal(config.runtime, 'ort/ort.min.mjs');
  assert.deepEqual(config.samples, ['samples/0-exact-size.png', 'samples/1-colour-wide.png', 'samples/2-grey-small.png']);
  for (const s of config.samples) assert.ok(res.files.includes(s));

  // Offline: no URL with a host anywhere in the page, and every module import resolves inside the export.
  const html = await readFile(path.join(res.out, 'index.html'), 'utf8');
  for (const m of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
    if (m[1].startsWith('data:') || m[1].startsWith('https://onnx.ai')) continue;
    assert.ok(res.files.includes(m[1]), `index.html refers to ${m[1]}`);
  }
  for (const js of res.files.filter((f) => f.startsWith('js/'))) {
    const code = await readFile(path.join(res.out, js), 'utf8');
    assert.doesNotMatch(code, /sourceMappingURL/, js);
    for (const [, spec] of code.matchAll(/(?:from\s*|import\s*\(\s*)['"]([^'"]+)['"]/g)) {
      assert.ok(spec.startsWith('.'), `${js} imports '${spec}', which a static page cannot resolve`);
      assert.ok(res.files.includes(path.posix.join(path.posix.dirname(js), spec)), `${js} imports missing ${spec}`);
    }
  }
  assert.ok(res.bytes > 1e6);
});

test('re-exporting replaces the folder as a whole and leaves no temporary folders', async () => {
  const out = path.join(fixture.dir, 'again');
  await exportWeb({ run: fixture.dir, out });
  await writeFile(path.join(out, 'stale.txt'), 'old');
  const extra = await writeTestImage(path.join(fixture.dir, 'extra', 'my sample.jpg'), { width: 30, height: 30, channels: 3, seed: 4, format: 'jpeg' });
  const res = await exportWeb({ run: path.join(fixture.dir, 'model.onnx'), out, samples: [extra] });
  assert.ok(!res.files.includes('stale.txt'));
  assert.deepEqual(res.files.filter((f) => f.startsWith('samples/')), ['samples/my_sample.jpg']);
  const siblings = await readdir(fixture.dir);
  assert.deepEqual(siblings.filter((n) => /\.(tmp|old)-/.test(n)), []);
});

test('refuses to overwrite what is not an export, bad samples, and a missing run', async () => {
  const other = path.join(fixture.dir, 'notes');
  await mkdir(other, { recursive: true });
  await writeFile(path.join(other, 'keep.txt'), 'mine');
  await assert.rejects(exportWeb({ run: fixture.dir, out: other }), /exists and is not an exported page/);
  assert.equal(await readFile(path.join(other, 'keep.txt'), 'utf8'), 'mine');
  await assert.rejects(exportWeb({ run: fixture.dir, out: fixture.dir }), /would replace the run folder/);
  const text = path.join(fixture.dir, 'fake.png');
  await writeFile(text, 'not a png');
  const out = path.join(fixture.dir, 'bad-samples');
  await assert.rejects(exportWeb({ run: fixture.dir, out, samples: [text] }), /fake\.png.*is not an image/);
  assert.ok(!(await readdir(fixture.dir)).some((n) => n.startsWith('bad-samples')), 'nothing left behind');
  await assert.rejects(exportWeb({ run: path.join(fixture.dir, 'nope') }), /does not exist/);
});
