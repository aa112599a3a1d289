import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatFixed, formatThousands } from '../../src/util/format.js';

test('formatFixed matches Python f"{x:.Nf}" including exact ties to even', () => {
  // Expected strings are Python 3 outputs of f"{x:.{n}f}".
  const cases: Array<[number, number, string]> = [
    [0.30124, 4, '0.3012'],
    [0.125, 2, '0.12'], // exact tie: half-even (JS toFixed gives 0.13)
    [0.375, 2, '0.38'],
    [2.5, 0, '2'],
    [3.5, 0, '4'],
    [2.675, 2, '2.67'], // 2.675 is stored just below, not a tie
    [1.005, 2, '1.00'],
    [89.10000000000001, 2, '89.10'],
    [-0.125, 2, '-0.12'],
    [-0.001, 2, '-0.00'],
    [100, 2, '100.00'],
    [0.00005, 4, '0.0001'], // stored just above 0.00005
    [NaN, 4, 'nan'],
    [Infinity, 2, 'inf'],
    [-Infinity, 2, '-inf'],
  ];
  for (const [x, n, expected] of cases) assert.equal(formatFixed(x, n), expected, `formatFixed(${x}, ${n})`);
  assert.throws(() => formatFixed(1, -1), /digits must be an integer in 0\.\.20/);
});

test('formatThousands groups digits with commas', () => {
  assert.equal(formatThousands(0), '0');
  assert.equal(formatThousands(999), '999');
  assert.equal(formatThousands(1000), '1,000');
  assert.equal(formatThousands(206922), '206,922');
  assert.equal(formatThousands(-1234567), '-1,234,567');
});
