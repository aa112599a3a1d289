import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const CLI = join(process.cwd(), 'dist/src/cli/bin.js');
const tmp = () => mkdtempSync(join(tmpdir(), 'onnxtrain-exit-'));

test('usage errors exit 2 with one line on every command; nothing is written', () => {
  const out = join(tmp(), 'never');
  const cases: [string[], RegExp][] = [
    [['train', 'simple-mlp', '--limit', '1', '--out', out], /--limit must be an integer >= 2, got 1/],
    [['train', 'simple-mlp', '--classes', 'x', '--out', out], /--classes .* got x/],
    [['train', 'basic-cnn', '--freeze', 'nope', '--out', out], /--freeze nope matches no parameter of basic-cnn/],
    [['train', 'simple-mlp', '--freeze', 'layers', '--out', out], /freezes every parameter of simple-mlp: nothing would train/],
    [['train', 'simple-mlp', '--seed', '-1', '--out', out], /--seed must be a non-negative integer, got -1/],
    [['train', 'simple-mlp', '--val-size', '-5', '--out', out], /--val-size must be a non-negative integer, got -5/],
    [['train', 'simple-mlp', '--lr', 'abc', '--out', out], /--lr must be a positive number, got abc/],
    [['train', 'simple-mlp', '--kernel', '5', '--out', out], /--kernel applies to CNNs only/],
    [['train', 'simple-mlp', '--bogus'], /Unknown argument: bogus/],
    [['train', 'simple-mlp', '--device', 'tpu'], /Invalid values: Argument: device, Given: "tpu"/],
    [['predict', 'run', 'img.png', '--top', '0'], /--top must be a positive integer, got 0/],
    [['serve', '.', '--port', '99999'], /--port must be at most 65535, got 99999/],
    [['serve', '.', '--port', 'http'], /--port must be a non-negative integer, got http/],
    [['experiment', 'depth', '--only', 'huge', '--out', out], /--only huge: experiment 'depth' has no such variant/],
    [['experiment', 'depth', '--limit', 'x', '--out', out], /--limit must be an integer >= 2, got x/],
    [['summary', 'simple-mlp', '--pooling', 'avg'], /--pooling applies to CNNs only/],
    [['nonsense'], /Unknown argument: nonsense/],
    [[], /name a command/],
  ];
  for (const [args, re] of cases) {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 2, `${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}:\n${r.stderr}`);
  }
  assert.equal(spawnSync('ls', [out]).status !== 0, true, 'no run folder was made');
});

test('importing the CLI module runs nothing; the bin prints help', async () => {
  const mod = await import('../../src/cli/cli.js');
  assert.equal(typeof mod.buildCli, 'function');
  const r = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /onnxtrain train \[model\]/);
});
