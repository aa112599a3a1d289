/** File and buffer digests, and the one error every checksum mismatch raises. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export type DigestAlgorithm = 'sha256' | 'md5';

/** Expected digests of one file; every one given is checked. */
export interface ExpectedDigests {
  sha256?: string;
  md5?: string;
  /** Exact length in bytes. */
  size?: number;
}

export function digestBytes(bytes: Uint8Array, algorithm: DigestAlgorithm): string {
  return createHash(algorithm).update(bytes).digest('hex');
}

/** sha256 and md5 of a file in one streaming pass, plus its size. */
export async function digestFile(path: string): Promise<{ sha256: string; md5: string; size: number }> {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    const b = chunk as Buffer;
    sha.update(b);
    md5.update(b);
    size += b.length;
  }
  return { sha256: sha.digest('hex'), md5: md5.digest('hex'), size };
}

/** Throws one line naming `label`, what was expected and found, and `fix`, if any given digest differs. */
export function checkDigests(
  label: string,
  actual: { sha256?: string; md5?: string; size?: number },
  expected: ExpectedDigests,
  fix: string,
): void {
  if (expected.size !== undefined && actual.size !== undefined && actual.size !== expected.size) {
    throw new Error(`${label} has the wrong size (expected ${expected.size} bytes, got ${actual.size}): ${fix}`);
  }
  for (const algorithm of ['sha256', 'md5'] as const) {
    const want = expected[algorithm];
    const got = actual[algorithm];
    if (want === undefined) continue;
    if (got === undefined) throw new Error(`${label}: no ${algorithm} computed to check against ${want}`);
    if (got.toLowerCase() !== want.toLowerCase()) {
      throw new Error(`${label} failed its ${algorithm} checksum (expected ${want}, got ${got}): ${fix}`);
    }
  }
}

export async function verifyFile(path: string, expected: ExpectedDigests, fix: string): Promise<void> {
  checkDigests(path, await digestFile(path), expected, fix);
}
