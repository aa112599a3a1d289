/** Test fixtures for src/data: temp folders, a 127.0.0.1 file server, a tar writer, generated CIFAR-10 archives. */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export function tempDir(prefix = 'onnxtrain-data-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface FileServer {
  baseUrl: string;
  /** Paths requested so far, in order. */
  requests: string[];
  close: () => Promise<void>;
}

/** Serves `files` (URL path without leading slash -> bytes) on 127.0.0.1; other paths get 404. */
export async function serveFiles(files: Record<string, Uint8Array>): Promise<FileServer> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').slice(1));
    requests.push(path);
    const body = files[path];
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface TarInput {
  name: string;
  data?: Uint8Array;
  /** '0' file (default), '5' directory, 'L' GNU long name, 'x' pax header. */
  type?: '0' | '5' | 'L' | 'x';
}

/** One 512-byte tar header in POSIX ustar layout ("ustar\0", version "00"). */
function tarHeader(name: string, size: number, type: string, mode: number): Uint8Array {
  const h = new Uint8Array(512);
  const put = (offset: number, text: string): void => { h.set(Buffer.from(text, 'utf8'), offset); };
  const octal = (v: number, width: number): string => `${v.toString(8).padStart(width - 1, '0')}\0`;
  put(0, name.slice(0, 100));
  put(100, octal(mode, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(size, 12));
  put(136, octal(1262304000, 12));
  put(148, '        ');
  put(156, type);
  put(257, 'ustar\0');
  put(263, '00');
  let sum = 0;
  for (const b of h) sum += b;
  put(148, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

/** A tar archive (uncompressed) of the given entries, ended by two zero blocks. */
export function makeTar(entries: TarInput[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = e.data ?? new Uint8Array(0);
    const type = e.type ?? '0';
    parts.push(tarHeader(e.name, data.length, type, type === '5' ? 0o755 : 0o644));
    parts.push(data);
    const pad = (512 - (data.length % 512)) % 512;
    parts.push(new Uint8Array(pad));
  }
  parts.push(new Uint8Array(1024));
  return Buffer.concat(parts);
}

export interface CifarFixture {
  /** Name inside cifar-10-batches-bin/ -> records (1 label byte + 3072 pixel bytes each). */
  batches: Record<string, Uint8Array>;
  /** The gzip-compressed tar, laid out as the official cifar-10-binary.tar.gz. */
  archive: Uint8Array;
}

/** Deterministic pseudo-random CIFAR-10 batches of `perBatch` records each, packed like the official archive. */
export function makeCifarArchive(perBatch: number, seed = 1): CifarFixture {
  let x = seed >>> 0 || 1;
  const byte = (): number => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x & 0xff;
  };
  const batches: Record<string, Uint8Array> = {};
  const names = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin'];
  for (const name of names) {
    const b = new Uint8Array(perBatch * 3073);
    for (let r = 0; r < perBatch; r++) {
      b[r * 3073] = byte() % 10;
      for (let k = 1; k < 3073; k++) b[r * 3073 + k] = byte();
    }
    batches[name] = b;
  }
  const meta = Buffer.from('airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n');
  const tar = makeTar([
    { name: 'cifar-10-batches-bin/', type: '5' },
    { name: 'cifar-10-batches-bin/batches.meta.txt', data: meta },
    ...names.map((n) => ({ name: `cifar-10-batches-bin/${n}`, data: batches[n] })),
    { name: 'cifar-10-batches-bin/readme.html', data: Buffer.from('<html></html>') },
  ]);
  return { batches, archive: gzipSync(tar) };
}
