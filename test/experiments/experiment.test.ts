import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EXPERIMENTS } from '../../src/experiments/catalog.js';
import { ExperimentInterrupted, runExperiment } from '../../src/experiments/run.js';
import { readMetrics } from '../../src/report/metrics.js';
import { assertPng } from '../helpers/png.js';

const CLI = join(process.cwd(), 'dist/src/cli/bin.js');
const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') || existsSync('data/fashion-mnist/train-images-idx3-ubyte.gz');
const noData = HAVE_DATA ? false : 'Fashion-MNIST missing: apt-get install dataset-fashion-mnist';
const tmp = () => mkdtempSync(join(tmpdir(), 'onnxtrain-exp-'));
const quiet = { log: () => {}, progress: null };

/** The data rows of the markdown table under `## <section>`, as cells. */
function tableRows(md: string, section = 'Runs'): string[][] {
  const after = md.split(`\n## ${section}\n`)[1];
  assert.ok(after !== undefined, `no section ${section}`);
  const lines = after.split('\n').slice(1);
  const table = lines.slice(0, lines.findIndex((l, i) => i > 0 && !l.startsWith('|')));
  if (section === 'Runs') assert.match(table[0], /^\| Variant \| Seed \| Model \| Best val acc \| Epoch of best \| Final val acc \| Test acc \| s\/epoch \| Epochs \| Parameters \|$/);
  return table.slice(2).map((l) => l.slice(2, -2).split(' | '));
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;

test('depth experiment: an interrupted run resumes, finished runs are skipped, and the table matches each run\'s files', { skip: noData }, async () => {
  const root = tmp();
  const es = { name: 'depth', only: ['simple-mlp', 'medium-mlp'], epochs: 2, limit: 1200, root, ...quiet };
  // 1000 training images in batches of 64: 16 steps per epoch; stopping after 20 lands inside epoch 2.
  await assert.rejects(runExperiment({ ...es, stopAfterSteps: 20 }), (e: Error) => {
    assert.ok(e instanceof ExperimentInterrupted);
    assert.match(e.message, /run `npm run experiment -- depth --out \S+ --epochs 2 --limit 1200 --only simple-mlp medium-mlp` again to continue/);
    return true;
  });
  assert.ok(existsSync(join(root, 'depth/simple-mlp/seed-0/last.safetensors')));
  assert.ok(!existsSync(join(root, 'depth/simple-mlp/seed-0/results.json')));
  assert.ok(!existsSync(join(root, 'depth/medium-mlp')));

  const second = await runExperiment(es);
  assert.deepEqual(second.resumed, ['simple-mlp/seed-0']);
  assert.deepEqual(second.trained, ['medium-mlp/seed-0']);
  const stamp = statSync(join(root, 'depth/medium-mlp/seed-0/last.safetensors')).mtimeMs;

  const third = await runExperiment(es);
  assert.deepEqual(third.skipped, ['simple-mlp/seed-0', 'medium-mlp/seed-0']);
  assert.deepEqual([...third.trained, ...third.resumed], []);
  assert.equal(statSync(join(root, 'depth/medium-mlp/seed-0/last.safetensors')).mtimeMs, stamp, 'a finished run was trained again');

  // A rerun with fewer epochs would mix runs in one report: refused, naming the fix.
  await assert.rejects(runExperiment({ ...es, epochs: 1 }), /simple-mlp\/seed-0 was trained with --epochs 2: pass the same --epochs, or another --out/);

  // A run in the layout before --seeds (<variant>/ itself) is moved into <variant>/seed-<its seed>/ and counts as done.
  const variantDir = join(root, 'depth/medium-mlp');
  for (const e of readdirSync(join(variantDir, 'seed-0'))) renameSync(join(variantDir, 'seed-0', e), join(variantDir, e));
  rmdirSync(join(variantDir, 'seed-0'));
  const lines: string[] = [];
  const fourth = await runExperiment({ ...es, log: (l: string) => lines.push(l) });
  assert.deepEqual(fourth.skipped, ['simple-mlp/seed-0', 'medium-mlp/seed-0']);
  assert.ok(lines.some((l) => l.includes('medium-mlp: moved its single-seed run into seed-0/')), lines.join('\n'));
  assert.deepEqual(readdirSync(variantDir), ['seed-0']);
  assert.equal(statSync(join(variantDir, 'seed-0/last.safetensors')).mtimeMs, stamp);

  const md = readFileSync(join(root, 'depth/report.md'), 'utf8');
  const html = readFileSync(join(root, 'depth/report.html'), 'utf8');
  const rows = tableRows(md);
  assert.equal(rows.length, 2);
  const params = { 'simple-mlp': 784 * 256 + 256 + 256 * 10 + 10, 'medium-mlp': 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10 };
  for (const [i, variant] of (['simple-mlp', 'medium-mlp'] as const).entries()) {
    const dir = join(root, 'depth', variant, 'seed-0');
    const history = await readMetrics(dir);
    const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
    assert.equal(history.length, 2);
    const best = history.reduce((b, m) => (m.valAcc > b.valAcc ? m : b));
    const mean = (history[0].seconds + history[1].seconds) / 2;
    const expected = [variant, '0', variant, pct(best.valAcc), String(best.epoch), pct(history[1].valAcc), pct(results.test.acc), mean.toFixed(2), '2', params[variant].toLocaleString('en-US')];
    assert.deepEqual(rows[i], expected);
    for (const cell of expected) assert.ok(html.includes(`>${cell}</td>`), `report.html lacks ${cell}`);
    // Gradient norms: one finite, positive norm per Linear layer, in the report too.
    const norms = JSON.parse(readFileSync(join(dir, 'gradnorms.json'), 'utf8')) as { layer: string; norm: number }[];
    assert.deepEqual(norms.map((n) => n.layer), variant === 'simple-mlp' ? ['layers.0', 'layers.2'] : ['layers.0', 'layers.2', 'layers.4']);
    for (const n of norms) assert.ok(Number.isFinite(n.norm) && n.norm > 0, `${variant} ${n.layer}: ${n.norm}`);
    assert.ok(md.includes(`**${variant}**: ${norms.map((n) => `${n.layer} ${n.norm.toExponential(3)}`).join(', ')}`));
  }
  await assertPng(readFileSync(join(root, 'depth/val_loss.png')), 900, 520);
  await assertPng(readFileSync(join(root, 'depth/val_acc.png')), 900, 520);
  assert.match(md, /!\[Validation loss\]\(val_loss\.png\)/);
});

test('missing CIFAR-10: the report says so and how to get it, the Fashion-MNIST run still trains', { skip: noData }, async () => {
  const root = tmp();
  const dataRoot = join(tmp(), 'data');
  mkdirSync(dataRoot);
  const r = await runExperiment({ name: 'reproduce', only: ['simple-mlp', 'cifar10-cnn'], epochs: 1, limit: 1200, root, dataRoot, download: false, ...quiet });
  assert.deepEqual(r.trained, ['simple-mlp/seed-0']);
  assert.deepEqual(r.missing, ['cifar10-cnn/seed-0']);
  const md = readFileSync(join(root, 'reproduce/report.md'), 'utf8');
  const rows = tableRows(md);
  assert.equal(rows[0][0], 'simple-mlp');
  assert.match(rows[0][6], /^\d+\.\d\d%$/);
  assert.deepEqual(rows[1].slice(0, 4), ['cifar10-cnn (not run: data missing)', '0', 'cifar10-cnn', '–']);
  assert.ok(md.includes(`CIFAR-10 could not be loaded from ${join(dataRoot, 'cifar10')}/`), md);
  assert.ok(md.includes('download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz'));
  assert.ok(!existsSync(join(root, 'reproduce/cifar10-cnn/seed-0/config.json')));
});

test('experiment CLI: --list names every experiment; bad names fail in one line', () => {
  const list = spawnSync(process.execPath, [CLI, 'experiment', '--list'], { encoding: 'utf8' });
  assert.equal(list.status, 0, list.stderr);
  for (const e of EXPERIMENTS) assert.match(list.stdout, new RegExp(`^${e.name} `, 'm'));
  assert.equal(EXPERIMENTS.length, 10);
  for (const [args, re] of [
    [['experiment', 'nope'], /unknown experiment 'nope': use one of batch-size/],
    [['experiment'], /name an experiment/],
    [['experiment', 'depth', '--only', 'huge-mlp', '--limit', '600', '--out', tmp()], /--only huge-mlp: experiment 'depth' has no such variant; use simple-mlp/],
  ] as [string[], RegExp][]) {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
