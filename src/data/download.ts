/**
 * Verified, atomic downloads: the body goes to `<dest>.<pid>.tmp`, is hashed while it streams, fsynced,
 * checked against the expected digests and only then renamed over `dest`. A failed or interrupted
 * download never leaves a file at `dest`.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, promises as fsp } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { basename, dirname } from 'node:path';
import { checkDigests, type ExpectedDigests } from './checksum.js';

export interface DownloadSettings {
  /** Digests the downloaded bytes must match (all given are checked). Default: none. */
  expected?: ExpectedDigests;
  /** Progress and status lines. Default: silent. */
  log?: (line: string) => void;
  /** Redirects followed before giving up. Default 5. */
  maxRedirects?: number;
  /** Socket inactivity limit in milliseconds. Default 60000. */
  timeoutMs?: number;
}

export async function downloadFile(url: string, dest: string, settings: DownloadSettings = {}): Promise<void> {
  const log = settings.log ?? (() => {});
  mkdirSync(dirname(dest), { recursive: true });
  const tmp = `${dest}.${process.pid}.tmp`;
  log(`downloading ${url} -> ${dest}`);
  try {
    const got = await fetchToFile(url, tmp, settings.maxRedirects ?? 5, settings.timeoutMs ?? 60000, log);
    checkDigests(`${basename(dest)} downloaded from ${url}`, got, settings.expected ?? {},
      'the server sent different bytes than the published file; check the URL (baseUrl) or retry later');
    await fsp.rename(tmp, dest);
    await syncDirectory(dirname(dest));
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

/** Makes the rename durable; directories cannot be opened for sync on every platform, so failure is ignored. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const fh = await fsp.open(dir, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
  } catch { /* best effort */ }
}

function fetchToFile(
  url: string, tmp: string, redirectsLeft: number, timeoutMs: number, log: (line: string) => void,
): Promise<{ sha256: string; md5: string; size: number }> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new Error(`download URL "${url}" is not a valid URL: fix baseUrl`));
      return;
    }
    const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : null;
    if (!client) {
      reject(new Error(`download URL ${url} is not http(s): fix baseUrl`));
      return;
    }
    const req = client.get(parsed, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        if (redirectsLeft <= 0) {
          reject(new Error(`download of ${url} redirected too many times: check the URL (baseUrl)`));
          return;
        }
        const next = new URL(res.headers.location, parsed).toString();
        fetchToFile(next, tmp, redirectsLeft - 1, timeoutMs, log).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        reject(new Error(`download of ${url} failed with HTTP ${status}: check the URL (baseUrl) and your network`));
        return;
      }
      writeResponse(res, tmp, log, url).then(resolve, reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`download of ${url} stalled for ${timeoutMs / 1000} s: check your network and run again`)));
    req.on('error', (e) => reject(e.message.includes(url) ? e : new Error(`download of ${url} failed (${e.message}): check your network and run again`)));
  });
}

async function writeResponse(
  res: http.IncomingMessage, tmp: string, log: (line: string) => void, url: string,
): Promise<{ sha256: string; md5: string; size: number }> {
  const total = Number(res.headers['content-length'] ?? NaN);
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  const fh = await fsp.open(tmp, 'w');
  let size = 0;
  let lastReport = 0;
  try {
    for await (const chunk of res) {
      const b = chunk as Buffer;
      sha.update(b);
      md5.update(b);
      await fh.write(b);
      size += b.length;
      if (Number.isFinite(total) && size - lastReport >= total / 10) {
        lastReport = size;
        log(`  ${((100 * size) / total).toFixed(0)}% of ${(total / 1e6).toFixed(1)} MB`);
      }
    }
    if (Number.isFinite(total) && size !== total) {
      throw new Error(`download of ${url} ended early (${size} of ${total} bytes): check your network and run again`);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { sha256: sha.digest('hex'), md5: md5.digest('hex'), size };
}
