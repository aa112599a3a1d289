/**
 * The proof that onnxtrain works as a dependency: pack it, install the tarball into a fresh project,
 * compile a TypeScript file there that defines a model with the public API, train it a few steps, export
 * the eval model, and run the installed `onnxtrain` bin from that folder.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = process.cwd();
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = (cmd: string, args: string[], cwd: string) => {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_onnxruntime_node_install: 'skip' } });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
};

const USER_CODE = `
import { writeFileSync } from 'node:fs';
import { callbacks, compile, datasets, fit, nn, type Callback, type History } from 'onnxtrain';

// 64 8x8 grey images of two classes: bright top half (0) or bright bottom half (1).
const n = 64;
const images = new Uint8Array(n * 64);
const labels = new Uint8Array(n);
for (let i = 0; i < n; i++) {
  labels[i] = i % 2;
  for (let p = 0; p < 64; p++) images[i * 64 + p] = (p < 32) === (labels[i] === 0) ? 200 + (i % 50) : 10 + (p % 7);
}
const data = datasets.fromArrays({ images, labels, shape: [1, 8, 8] });

const model = nn.sequential([nn.conv2d(1, 4, 3), nn.relu(), nn.maxPool2d(2), nn.flatten(), nn.linear(4 * 4 * 4, 2)]);
const program = await compile(model, { input: [1, 8, 8], loss: 'cross-entropy', optimizer: { kind: 'adam', lr: 1e-2 }, device: 'cpu', classNames: ['top', 'bottom'] });
const batches: number[] = [];
const counter: Callback = { onBatchEnd: (_ctx, c) => { batches.push(...c.losses); } };
const history: History = await fit(program, data, { epochs: 5, batchSize: 16, validation: data, chunkSteps: 2, log: () => {},
  callbacks: [callbacks.progressBar({ stream: null }), counter] });
await program.exportEval('model.onnx');
const probs = await program.predict(data);
const test = await program.evaluate(data);
writeFileSync('result.json', JSON.stringify({ epochs: history.epochs.length, stopped: history.stopped, losses: batches, acc: test.acc, probs: Array.from(probs.slice(0, 4)) }));
await program.release();
`;

test('npm pack -> install in a fresh project -> a TypeScript file trains with the API; the bin runs there', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onnxtrain-pack-'));
  run(NPM, ['pack', '--ignore-scripts', '--pack-destination', dir], ROOT);
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, 'npm pack wrote no tarball');
  const listing = spawnSync('tar', ['-tzf', join(dir, tarball)], { encoding: 'utf8' }).stdout;
  assert.match(listing, /package\/dist\/src\/index\.d\.ts/);
  assert.doesNotMatch(listing, /package\/dist\/test\//, 'tests are not shipped');

  const app = join(dir, 'app');
  run('mkdir', ['-p', app], dir);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  writeFileSync(join(app, '.npmrc'), 'onnxruntime-node-install=skip\n');
  run(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', join(dir, tarball)], app);

  writeFileSync(join(app, 'train.ts'), USER_CODE);
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  // The README's example type-checks against the installed package as it is written there.
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const example = /## As a library[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example, 'README has a TypeScript example under "As a library"');
  writeFileSync(join(app, 'readme_example.ts'), example);
  run(process.execPath, [tsc, '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck', 'readme_example.ts'], app);
  run(process.execPath, [tsc, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck', 'train.ts'], app);
  run(process.execPath, ['train.js'], app);
  const r = JSON.parse(spawnSync('cat', [join(app, 'result.json')], { encoding: 'utf8' }).stdout);
  assert.equal(r.epochs, 5);
  assert.equal(r.stopped, 'done');
  assert.equal(r.losses.length, 20, '4 steps per epoch (64 images, batch 16) for 5 epochs');
  assert.ok(r.losses.every(Number.isFinite));
  assert.ok(r.losses.at(-1) < r.losses[0], `the loss did not fall: ${r.losses[0]} -> ${r.losses.at(-1)}`);
  assert.ok(r.acc > 0.9, `a separable two-class problem should be learnt, accuracy ${r.acc}`);
  assert.ok(Math.abs(r.probs[0] + r.probs[1] - 1) < 1e-5, 'probabilities sum to 1');
  assert.ok(existsSync(join(app, 'model.onnx')));

  const bin = spawnSync(join(app, 'node_modules', '.bin', 'onnxtrain'), ['summary', 'basic-cnn'], { cwd: app, encoding: 'utf8' });
  assert.equal(bin.status, 0, bin.stderr);
  assert.match(bin.stdout, /features\.0/);
});
