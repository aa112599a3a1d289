import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, ProgressBar } from '../../src/report/progress.js';

function fakeTerminal(columns = 200): { isTTY: boolean; columns: number; writes: string[]; write(s: string): boolean } {
  return { isTTY: true, columns, writes: [], write(s: string) { this.writes.push(s); return true; } };
}

test('draws label, bar, counts, samples/s, loss, accuracy and ETA', () => {
  let clock = 0;
  const stream = fakeTerminal();
  const bar = new ProgressBar({ total: 100, label: 'Epoch 3/20', stream, barWidth: 10, now: () => clock });
  clock = 2000;
  bar.update(25, { samples: 1600, loss: 0.41234, acc: 0.8525 });
  assert.equal(stream.writes.length, 1);
  assert.equal(
    stream.writes[0],
    '\rEpoch 3/20 [==>       ]  25/100 | 800 samples/s | loss 0.4123 | acc 85.25% | ETA 0:06\x1b[K',
  );
});

test('redraws at most once per minIntervalMs, but always draws the last step', () => {
  let clock = 0;
  const stream = fakeTerminal();
  const bar = new ProgressBar({ total: 1000, stream, now: () => clock });
  for (let step = 1; step <= 1000; step++) {
    clock += 1; // 1 ms per step: 1 s in all
    bar.update(step, { samples: step * 64 });
  }
  // Draws at t=1, 101, ..., 901 and the final step at t=1000.
  assert.equal(stream.writes.length, 11);
  assert.match(stream.writes.at(-1)!, /\[=+\] 1000\/1000 \| 64,000 samples\/s \| 0:01\x1b\[K$/);
  bar.finish();
  assert.equal(stream.writes.at(-1), '\n');
  bar.update(1000);
  bar.finish();
  assert.equal(stream.writes.length, 13, 'nothing drawn after finish');
});

test('finish({ clear: true }) erases the line; the line is cut to the terminal width', () => {
  let clock = 0;
  const stream = fakeTerminal(30);
  const bar = new ProgressBar({ total: 10, label: 'Epoch 1/1', stream, now: () => clock });
  clock = 500;
  bar.update(5, { loss: 1 });
  assert.equal(stream.writes[0].length, '\r'.length + 29 + '\x1b[K'.length);
  bar.finish({ clear: true });
  assert.equal(stream.writes.at(-1), '\r\x1b[K');
});

test('a resumed epoch counts earlier steps but measures rate and ETA from this session only', () => {
  let clock = 0;
  const stream = fakeTerminal();
  const bar = new ProgressBar({ total: 100, stream, barWidth: 10, now: () => clock, initial: { done: 50, samples: 3200 } });
  clock = 1000;
  bar.update(60, { samples: 3840 });
  assert.equal(stream.writes[0], '\r[=====>    ]  60/100 | 640 samples/s | ETA 0:04\x1b[K');
  assert.throws(() => new ProgressBar({ total: 5, stream, initial: { done: 6 } }), /initial\.done must be an integer in 0\.\.5/);
});

test('silent when the stream is not a terminal', () => {
  const writes: string[] = [];
  const bar = new ProgressBar({ total: 3, stream: { isTTY: false, write: (s: string) => writes.push(s) } });
  assert.equal(bar.enabled, false);
  for (let i = 1; i <= 3; i++) bar.update(i, { loss: 0.5 });
  bar.finish();
  assert.deepEqual(writes, []);
});

test('rejects a bad total or step with a clear message', () => {
  assert.throws(() => new ProgressBar({ total: 0, stream: fakeTerminal() }), /total must be a positive integer/);
  const bar = new ProgressBar({ total: 5, stream: fakeTerminal() });
  assert.throws(() => bar.update(6), /done must be an integer in 0\.\.5, got 6/);
});

test('formatDuration', () => {
  assert.equal(formatDuration(0), '0:00');
  assert.equal(formatDuration(65.4), '1:05');
  assert.equal(formatDuration(3725), '1:02:05');
});

test('clearLine erases the bar for a printed line, and the next update draws it again at once', () => {
  let clock = 0;
  const stream = fakeTerminal();
  const bar = new ProgressBar({ total: 10, stream, now: () => clock });
  clock = 500;
  bar.update(3);
  bar.clearLine();
  assert.equal(stream.writes.at(-1), '\r\x1b[K');
  clock = 510; // within minIntervalMs of the last draw, yet the bar comes back
  bar.update(4);
  assert.match(stream.writes.at(-1)!, /^\r.* 4\/10/);
  bar.finish({ clear: true });
  const n = stream.writes.length;
  bar.clearLine();
  assert.equal(stream.writes.length, n, 'nothing after finish');
});
