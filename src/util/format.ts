/** Number formatting that matches Python's, so printed lines equal the reference notebook's character for character. */

/**
 * Python's `f"{x:.{digits}f}"`: the exact binary value rounded to `digits` decimals, exact ties to even
 * (JavaScript's toFixed breaks exact ties away from zero: (0.125).toFixed(2) is '0.13', Python gives '0.12').
 * NaN and infinities print as Python does: 'nan', 'inf', '-inf'.
 */
export function formatFixed(x: number, digits: number): string {
  if (!Number.isInteger(digits) || digits < 0 || digits > 20) {
    throw new Error(`formatFixed: digits must be an integer in 0..20, got ${digits}`);
  }
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const negative = x < 0 || Object.is(x, -0);
  const tie = halfEvenTie(Math.abs(x), digits);
  const body = tie ?? Math.abs(x).toFixed(digits);
  return negative ? '-' + body : body;
}

/** If |x|·10^digits lies exactly halfway between two integers, the half-even result as a string; else null. */
function halfEvenTie(ax: number, digits: number): string | null {
  // ax = mantissa / 2^k exactly, with mantissa an integer (doubling a double is exact).
  let y = ax;
  let k = 0;
  while (!Number.isInteger(y)) { y *= 2; k++; }
  if (k === 0) return null;
  const twice = BigInt(y) * 10n ** BigInt(digits) * 2n; // 2·ax·10^d · 2^k
  const denom = 1n << BigInt(k);
  if (twice % denom !== 0n) return null;
  const q = twice / denom; // = 2·ax·10^d, an integer; a tie iff it is odd
  if (q % 2n === 0n) return null;
  const lower = (q - 1n) / 2n;
  const n = lower % 2n === 0n ? lower : lower + 1n;
  if (digits === 0) return n.toString();
  const s = n.toString().padStart(digits + 1, '0');
  return `${s.slice(0, -digits)}.${s.slice(-digits)}`;
}

/** An integer with comma thousands separators (Python's `f"{n:,}"`), independent of the process locale. */
export function formatThousands(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const sign = n < 0 ? '-' : '';
  return sign + Math.round(Math.abs(n)).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
