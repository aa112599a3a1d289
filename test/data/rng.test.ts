import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/data/rng.js';

test('xoshiro128** matches the reference C implementation for state {1,2,3,4}', () => {
  // First ten outputs of the authors' reference xoshiro128starstar.c (prng.di.unimi.it) seeded {1,2,3,4}, built with gcc.
  const expected = [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804];
  const r = Rng.fromState({ algorithm: 'xoshiro128**', s: [1, 2, 3, 4], spare: null });
  assert.deepEqual(Array.from({ length: 10 }, () => r.nextU32()), expected);
});

test('the same seed and stream give the same sequence; other seeds and streams differ', () => {
  const draw = (r: Rng): number[] => Array.from({ length: 8 }, () => r.nextU32());
  assert.deepEqual(draw(Rng.fromSeed(42)), draw(Rng.fromSeed(42)));
  assert.notDeepEqual(draw(Rng.fromSeed(42)), draw(Rng.fromSeed(43)));
  assert.notDeepEqual(draw(Rng.fromSeed(42, 'shuffle')), draw(Rng.fromSeed(42, 'init')));
  assert.notDeepEqual(draw(Rng.fromSeed(2 ** 40)), draw(Rng.fromSeed(0)));
});

test('state survives a JSON round trip mid-stream, including the spare normal deviate', () => {
  const a = Rng.fromSeed(7);
  for (let i = 0; i < 13; i++) a.nextU32();
  a.normal(); // leaves a spare
  const saved = JSON.parse(JSON.stringify(a.getState()));
  assert.equal(typeof saved.spare, 'number');
  const b = Rng.fromState(saved);
  const seqA = [a.normal(), a.nextFloat(), a.int(1000), a.normal(), a.normal()];
  const seqB = [b.normal(), b.nextFloat(), b.int(1000), b.normal(), b.normal()];
  assert.deepEqual(seqB, seqA);
});

test('setState rejects malformed states with a message saying what to pass', () => {
  const r = Rng.fromSeed(1);
  assert.throws(() => r.setState({ algorithm: 'xoshiro128**', s: [0, 0, 0, 0], spare: null }), /all zero/);
  assert.throws(() => r.setState({ algorithm: 'xoshiro128**', s: [1, 2, 3, -1], spare: null }), /unsigned 32-bit/);
  assert.throws(() => r.setState({ algorithm: 'pcg', s: [1, 2, 3, 4] } as never), /getState\(\)/);
  assert.throws(() => Rng.fromSeed(1.5), /safe integer/);
});

test('nextFloat stays in [0,1), int(n) in [0,n), and both look uniform', () => {
  const r = Rng.fromSeed(3);
  const counts = new Array(10).fill(0);
  let sum = 0;
  const N = 50000;
  for (let i = 0; i < N; i++) {
    const f = r.nextFloat();
    assert.ok(f >= 0 && f < 1);
    sum += f;
    const k = r.int(10);
    assert.ok(Number.isInteger(k) && k >= 0 && k < 10);
    counts[k]++;
  }
  assert.ok(Math.abs(sum / N - 0.5) < 0.01, `mean ${sum / N}`);
  for (const c of counts) assert.ok(Math.abs(c - N / 10) < 0.05 * N / 10, `bucket count ${c}`);
  assert.throws(() => r.int(0), /1 <= n/);
});

test('normal() has mean 0 and variance 1', () => {
  const r = Rng.fromSeed(11);
  const N = 40000;
  let s = 0, s2 = 0;
  for (let i = 0; i < N; i++) {
    const z = r.normal();
    s += z;
    s2 += z * z;
  }
  const mean = s / N;
  assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
  assert.ok(Math.abs(s2 / N - mean * mean - 1) < 0.05, `variance ${s2 / N}`);
});

test('shuffle is a deterministic permutation; fork gives an independent stream', () => {
  const p1 = Rng.fromSeed(5).permutation(1000);
  const p2 = Rng.fromSeed(5).permutation(1000);
  assert.deepEqual(p1, p2);
  assert.deepEqual(Array.from(p1).sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  assert.notDeepEqual(Array.from(p1), Array.from({ length: 1000 }, (_, i) => i));
  const arr = ['a', 'b', 'c', 'd'];
  assert.equal(Rng.fromSeed(5).shuffle(arr), arr);
  const parent = Rng.fromSeed(9);
  const child = parent.fork('aug');
  assert.notEqual(child.nextU32(), parent.nextU32());
  assert.deepEqual(Rng.fromSeed(9).fork('aug').getState(), Rng.fromSeed(9).fork('aug').getState());
});
