import assert from 'node:assert/strict';
import { cpus } from 'node:os';
import test from 'node:test';
import ort from 'onnxruntime-node';
import { compileGraphSet } from '../../src/program/compile.js';
import { zeroState } from '../../src/program/signature.js';
import { Rng } from '../../src/data/rng.js';
import { initialWeights } from '../../src/models/init.js';
import { buildModelDef } from '../../src/models/registry.js';
import { defaultOptimizerSettings } from '../../src/optim/index.js';
import { TrainSessions } from '../../src/train/sessions.js';
import { busyCores, decideSpinning, resolveSpinning, SpinWatch, spinPolicy, type LoadSample } from '../../src/train/spinning.js';

type Cpu = ReturnType<typeof cpus>[number];
const cpu = (busy: number, idle: number): Cpu => ({ model: 'x', speed: 0, times: { user: busy, nice: 0, sys: 0, idle, irq: 0 } });

test('busyCores: the cores\' worth of CPU in use between two readings', () => {
  const before = [cpu(0, 0), cpu(0, 0)];
  assert.equal(busyCores(before, [cpu(100, 0), cpu(0, 100)]), 1);
  assert.equal(busyCores(before, [cpu(50, 50), cpu(50, 50)]), 1);
  assert.equal(busyCores(before, [cpu(0, 100), cpu(0, 100)]), 0);
  assert.equal(busyCores(before, [cpu(100, 0), cpu(100, 0)]), 2);
});

test('auto spins with several threads on free cores only; on and off are obeyed', () => {
  assert.equal(decideSpinning('auto', 2, 2, 0.05).spinning, true);
  assert.equal(decideSpinning('auto', undefined, 2, 0.1).spinning, true);
  const busy = decideSpinning('auto', 2, 2, 1.0);
  assert.equal(busy.spinning, false);
  assert.match(busy.why, /cores busy \(1\.0 of 2 in use elsewhere\)/);
  assert.equal(decideSpinning('auto', 2, 4, 1.5).spinning, true, 'two free cores of four are enough for two threads');
  assert.equal(decideSpinning('auto', 1, 2, 0).spinning, false);
  assert.equal(decideSpinning('auto', undefined, 1, 0).spinning, false);
  assert.equal(decideSpinning('on', 2, 2, 2).spinning, true);
  assert.equal(decideSpinning('off', 2, 2, 0).spinning, false);
});

test('spinPolicy reads CLI values and older runs\' booleans, and names a bad value', () => {
  assert.equal(spinPolicy('auto'), 'auto');
  assert.equal(spinPolicy(undefined), 'auto');
  assert.equal(spinPolicy(true), 'on');
  assert.equal(spinPolicy(false), 'off');
  assert.throws(() => spinPolicy('always'), /--spinning must be auto, on or off, got 'always'/);
});

test('resolveSpinning samples this machine for auto and says why', async () => {
  const d = await resolveSpinning('auto', 1, { sampleMs: 20 });
  assert.deepEqual(d, { spinning: false, why: 'no spinning: 1 thread' });
  const a = await resolveSpinning('auto', 2, { sampleMs: 50 });
  assert.match(a.why, /^(spinning|no spinning: cores busy \(\d+\.\d of \d+ in use elsewhere\))$/);
  const cores = (await import('node:os')).cpus().length;
  const withWorker = await resolveSpinning('auto', cores, { sampleMs: 20, ownWorkers: 1 });
  assert.equal(withWorker.spinning, false, 'an augmentation worker beside one thread per core leaves no core to spin on');
});

/** Readings of a 2-core machine where, between readings, others use `others` cores and this process `own`. */
function machine() {
  const state = { t: 0, busy: [0, 0], idle: [0, 0], ownMs: 0 };
  const read = (): LoadSample => ({ t: state.t, ownMs: state.ownMs, cpus: state.busy.map((b, i) => cpu(b, state.idle[i])) });
  const advance = (ms: number, others: number, own: number) => {
    const used = Math.min(2, others + own);
    state.t += ms;
    state.ownMs += own * ms;
    for (let i = 0; i < 2; i++) {
      const share = Math.min(1, Math.max(0, used - i));
      state.busy[i] += share * ms;
      state.idle[i] += (1 - share) * ms;
    }
  };
  return { read, advance, clock: () => state.t };
}

test('SpinWatch turns spinning off when another process takes a core, and on again when it leaves; a burst changes nothing', () => {
  const m = machine();
  const w = new SpinWatch(2, 0, m.read, 1000, m.clock);
  m.advance(500, 0, 2);
  assert.equal(w.check(true), null, 'readings under minMs apart are not judged');
  m.advance(1000, 0, 2);
  assert.equal(w.check(true), null, 'free cores: keep spinning');
  m.advance(1500, 1, 1.1);
  assert.equal(w.check(true), null, 'a first busy reading only marks the change as pending');
  m.advance(1500, 0, 2);
  assert.equal(w.check(true), null, 'the burst is over: nothing changes');
  m.advance(1500, 1, 1.1);
  assert.equal(w.check(true), null);
  m.advance(1500, 1, 1.1);
  const off = w.check(true);
  assert.equal(off?.spinning, false);
  assert.match(off!.why, /cores busy \(0\.9 of 2 in use elsewhere\)/);
  m.advance(1500, 0, 1.3);
  assert.equal(w.check(false), null);
  m.advance(1500, 0, 1.3);
  assert.equal(w.check(false)?.spinning, true, 'free again: spinning comes back');
  const withWorker = new SpinWatch(2, 1, m.read, 1000, m.clock);
  m.advance(1500, 0, 2);
  assert.equal(withWorker.check(true), null);
  m.advance(1500, 0, 2);
  assert.equal(withWorker.check(true)?.spinning, false, 'the augmentation worker needs a core of its own: no spinning');
});

test('TrainSessions.setSpinning rebuilds the sessions and training carries on exactly', async () => {
  const set = compileGraphSet({ def: buildModelDef('simple-mlp'), optimizer: defaultOptimizerSettings('adam') });
  const sig = set.signature;
  const rng = Rng.fromSeed(7, 'test');
  const images = new ort.Tensor('float32', Float32Array.from({ length: 256 * 784 }, () => rng.nextFloat() * 2 - 1), [256, 1, 28, 28]);
  const labels = new ort.Tensor('int64', BigInt64Array.from({ length: 256 }, () => BigInt(Math.floor(rng.nextFloat() * 10))), [256]);
  const indices = BigInt64Array.from({ length: 4 * 32 }, (_, i) => BigInt((i * 37) % 256));
  const run = async (switchTo: boolean | null) => {
    const r = await TrainSessions.create(set, { device: 'cpu', threads: 2, spinning: false, graphKind: 'loop' });
    r.load(initialWeights(sig.all, 0), zeroState(sig), 0);
    const noise = Rng.fromSeed(0, 'dropout');
    const a = await r.trainLoop({ data: { images, labels }, indices: indices.subarray(0, 64), rows: 2, batch: 32, lr: 1e-3, rng: noise });
    if (switchTo !== null) await r.setSpinning(switchTo);
    const b = await r.trainLoop({ data: { images, labels }, indices: indices.subarray(64), rows: 2, batch: 32, lr: 1e-3, rng: noise });
    const spinning = r.spinning;
    const weights = r.weights();
    await r.release();
    return { losses: [...a.losses, ...b.losses], weights, spinning };
  };
  const plain = await run(null);
  const switched = await run(true);
  assert.equal(plain.spinning, false);
  assert.equal(switched.spinning, true);
  assert.deepEqual(switched.losses, plain.losses);
  for (const [k, t] of plain.weights) assert.deepEqual(switched.weights.get(k)!.data, t.data, k);
});
