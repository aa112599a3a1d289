import assert from 'node:assert/strict';
import { cpus } from 'node:os';
import test from 'node:test';
import { busyCores, decideSpinning, resolveSpinning, spinPolicy } from '../../src/train/spinning.js';

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
  assert.match(busy.why, /cores busy \(1\.0 of 2 in use\)/);
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
  assert.match(a.why, /^(spinning|no spinning: cores busy \(\d+\.\d of \d+ in use\))$/);
  const cores = (await import('node:os')).cpus().length;
  const withWorker = await resolveSpinning('auto', cores, { sampleMs: 20, ownWorkers: 1 });
  assert.equal(withWorker.spinning, false, 'an augmentation worker beside one thread per core leaves no core to spin on');
});
