import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { EXPORT_MANIFEST, exportWeb } from '../../src/web/export.js';
import { makeRunFixture, writeTestImage } from '../helpers/run_fixture.js';

const fixture = await makeRunFixture();
after(() => rm(fixture.dir, { recursive: true, force: true }));

test('the export is a self-contained page: model byte-identical, config, runtime, page modules, samples', async () => {
  const res = await exportWeb({ run: fixture.dir });
  assert.equal(res.out, path.join(fixture.dir, 'web'));
  for (const f of ['index.html', 'style.css', 'config.json', 'model.onnx', 'js/web/page/app.js', 'js/predict/pixels.js', 'ort/ort.min.mjs']) {
    assert.ok(res.files.includes(f), `missing ${f}`);
  }
  const ort = res.files.filter((f) => f.startsWith('ort/') && !/\.(gz|br)$/.test(f));
  assert.deepEqual(ort, [
    'ort/ort-wasm-simd-threaded.jsep.mjs', 'ort/ort-wasm-simd-threaded.jsep.wasm', 'ort/ort-wasm-simd-threaded.mjs',
    'ort/ort-wasm-simd-threaded.wasm', 'ort/ort.min.mjs', 'ort/ort.wasm.min.mjs',
  ], 'the plain wasm build and the WebGPU (JSEP) build, nothing else');
  assert.deepEqual(await readFile(path.join(res.out, 'model.onnx')), await readFile(path.join(fixture.dir, 'model.onnx')));

  const config = JSON.parse(await readFile(path.join(res.out, 'config.json'), 'utf8'));
  assert.deepEqual(config.classNames, fixture.config.classNames);
  assert.deepEqual(config.inputShape, [1, 28, 28]);
  assert.deepEqual(config.normalization, { mean: [0.5], std: [0.5] });
  assert.deepEqual(config.runtime, {
    wasm: { module: 'ort/ort.wasm.min.mjs', binary: 'ort/ort-wasm-simd-threaded.wasm', bytes: (await stat(path.join(res.out, 'ort/ort-wasm-simd-threaded.wasm'))).size },
    webgpu: { module: 'ort/ort.min.mjs', binary: 'ort/ort-wasm-simd-threaded.jsep.wasm', bytes: (await stat(path.join(res.out, 'ort/ort-wasm-simd-threaded.jsep.wasm'))).size },
  });
  assert.equal(config.modelBytes, (await stat(path.join(fixture.dir, 'model.onnx'))).size);
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

  // Every compressible file has .gz and .br copies that decompress to it; images are left alone.
  for (const f of res.files.filter((f) => !/\.(gz|br|png|jpe?g|webp|gif)$/.test(f) && f !== EXPORT_MANIFEST)) {
    const original = await readFile(path.join(res.out, f));
    assert.deepEqual(zlib.gunzipSync(await readFile(path.join(res.out, f + '.gz'))), original, `${f}.gz`);
    assert.deepEqual(zlib.brotliDecompressSync(await readFile(path.join(res.out, f + '.br'))), original, `${f}.br`);
  }
  assert.ok(!res.files.some((f) => /\.png\.(gz|br)$/.test(f)));
  const wasmBr = (await stat(path.join(res.out, 'ort/ort-wasm-simd-threaded.wasm.br'))).size;
  assert.ok(wasmBr < 3.2e6, `the plain wasm binary compresses to ${wasmBr} bytes`);

  // The manifest lists every file written, itself aside.
  const manifest = JSON.parse(await readFile(path.join(res.out, EXPORT_MANIFEST), 'utf8'));
  assert.deepEqual(manifest.files, res.files.filter((f) => f !== EXPORT_MANIFEST));
});

test('re-exporting replaces an earlier export as a whole and leaves no temporary folders', async () => {
  const out = path.join(fixture.dir, 'again');
  await exportWeb({ run: fixture.dir, out, compress: false });
  const extra = await writeTestImage(path.join(fixture.dir, 'extra', 'my sample.jpg'), { width: 30, height: 30, channels: 3, seed: 4, format: 'jpeg' });
  const res = await exportWeb({ run: path.join(fixture.dir, 'model.onnx'), out, samples: [extra], compress: false });
  assert.deepEqual(res.files.filter((f) => f.startsWith('samples/')), ['samples/my_sample.jpg']);
  assert.ok(!res.files.some((f) => /\.(gz|br)$/.test(f)), 'compress: false writes no copies');
  const siblings = await readdir(fixture.dir);
  assert.deepEqual(siblings.filter((n) => /\.(tmp|old)-/.test(n)), []);
  // An empty folder is fine too.
  const empty = path.join(fixture.dir, 'empty');
  await mkdir(empty);
  await exportWeb({ run: fixture.dir, out: empty, compress: false });
});

test('an earlier export that now holds the user\'s own files is refused, and they are kept', async () => {
  const out = path.join(fixture.dir, 'mixed');
  await exportWeb({ run: fixture.dir, out, compress: false });
  await writeFile(path.join(out, 'precious.txt'), 'mine');
  await mkdir(path.join(out, 'photos'));
  await writeFile(path.join(out, 'photos', 'cat.jpg'), 'cat');
  await assert.rejects(exportWeb({ run: fixture.dir, out, compress: false }), /holds 2 files that export-web did not write \(photos\/cat\.jpg, precious\.txt\).*move them elsewhere first, or choose another --out/);
  assert.equal(await readFile(path.join(out, 'precious.txt'), 'utf8'), 'mine');
  assert.equal(await readFile(path.join(out, 'photos', 'cat.jpg'), 'utf8'), 'cat');
});

test('refuses to overwrite what is not an export, bad samples, and a missing run', async () => {
  const other = path.join(fixture.dir, 'notes');
  await mkdir(other, { recursive: true });
  await writeFile(path.join(other, 'keep.txt'), 'mine');
  await assert.rejects(exportWeb({ run: fixture.dir, out: other }), /was not written by export-web \(it has no onnxtrain-export\.json\)/);
  assert.equal(await readFile(path.join(other, 'keep.txt'), 'utf8'), 'mine');
  // What an export used to hold (index.html, config.json) is no proof that a folder is one.
  await writeFile(path.join(other, 'index.html'), '<p>mine</p>');
  await writeFile(path.join(other, 'config.json'), '{}');
  await assert.rejects(exportWeb({ run: fixture.dir, out: other }), /was not written by export-web/);
  assert.equal(await readFile(path.join(other, 'keep.txt'), 'utf8'), 'mine');
  await assert.rejects(exportWeb({ run: fixture.dir, out: path.join(other, 'keep.txt') }), /is a file, not a folder/);
  await assert.rejects(exportWeb({ run: fixture.dir, out: fixture.dir }), /would replace the run folder/);
  const text = path.join(fixture.dir, 'fake.png');
  await writeFile(text, 'not a png');
  const out = path.join(fixture.dir, 'bad-samples');
  await assert.rejects(exportWeb({ run: fixture.dir, out, samples: [text] }), /fake\.png.*is not an image/);
  assert.ok(!(await readdir(fixture.dir)).some((n) => n.startsWith('bad-samples')), 'nothing left behind');
  await assert.rejects(exportWeb({ run: path.join(fixture.dir, 'nope') }), /does not exist/);
});
