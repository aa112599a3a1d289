/** Values from the command line, checked: each error quotes what was typed and is a UsageError (exit 2). */

/** A user error: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const quoted = (raw: unknown): string => (raw === '' ? "''" : String(raw));

function number(name: string, raw: string | number, ok: (v: number) => boolean, what: string): number {
  const v = typeof raw === 'number' ? raw : raw.trim() === '' ? NaN : Number(raw);
  if (!ok(v)) throw new UsageError(`--${name} must be ${what}, got ${quoted(raw)}`);
  return v;
}

export const positiveNumber = (name: string, raw: string | number) => number(name, raw, (v) => v > 0 && Number.isFinite(v), 'a positive number');
export const nonNegativeNumber = (name: string, raw: string | number) => number(name, raw, (v) => v >= 0 && Number.isFinite(v), 'a non-negative number');
export const positiveInt = (name: string, raw: string | number) => number(name, raw, (v) => Number.isInteger(v) && v > 0, 'a positive integer');
export const nonNegativeInt = (name: string, raw: string | number) => number(name, raw, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
export const intAtLeast = (name: string, raw: string | number, min: number) => number(name, raw, (v) => Number.isInteger(v) && v >= min, `an integer >= ${min}`);

/** The value when given, else undefined. */
export const optional = <T>(raw: string | number | undefined, parse: (raw: string | number) => T): T | undefined => (raw === undefined ? undefined : parse(raw));

/** '0,1,2' -> [0, 1, 2]: distinct non-negative integers, at least two. */
export function classList(text: string, numClasses: number): number[] {
  const parts = text.split(',').map((t) => t.trim());
  const out = parts.map((t) => (/^\d+$/.test(t) ? Number(t) : NaN));
  if (out.length < 2 || out.some((c) => !(c >= 0 && c < numClasses)) || new Set(out).size !== out.length) {
    throw new UsageError(`--classes must list at least two distinct class indices in 0..${numClasses - 1}, comma-separated (e.g. 0,1,2,3,4), got ${quoted(text)}`);
  }
  return out;
}

/** '3,224,224' -> [3, 224, 224]: --input's C,H,W, positive integers. */
export function imageShape(name: string, raw: string | number): [number, number, number] {
  const dims = String(raw).split(',').map((d) => (/^\s*\d+\s*$/.test(d) ? Number(d) : NaN));
  if (dims.length !== 3 || !dims.every((d) => Number.isInteger(d) && d > 0)) throw new UsageError(`--${name} must be C,H,W with positive integers (e.g. 3,224,224), got ${quoted(raw)}`);
  return dims as [number, number, number];
}
