import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';

export interface WireLog {
  /** Bytes received on the wire (headers + body as sent, i.e. compressed), per URL, summed. */
  bytes(): number;
  /** Each finished request: URL, HTTP status, bytes on the wire, Content-Encoding. */
  requests: { url: string; status: number; bytes: number; encoding?: string }[];
}

/** Record bytes on the wire for `page` through Chrome DevTools Protocol network events. */
export async function recordWire(page: Page): Promise<WireLog> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const pending = new Map<string, { url: string; status: number; encoding?: string }>();
  const log: WireLog = { requests: [], bytes: () => log.requests.reduce((a, r) => a + r.bytes, 0) };
  cdp.on('Network.responseReceived', (e) => {
    const h = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
    pending.set(e.requestId, { url: e.response.url, status: e.response.status, encoding: h['content-encoding'] });
  });
  cdp.on('Network.loadingFinished', (e) => {
    const r = pending.get(e.requestId);
    if (r) log.requests.push({ ...r, bytes: e.encodedDataLength });
  });
  return log;
}

/** Drop files on `selector` as a user dragging them from the desktop would. */
export async function dropFiles(p: Page, selector: string, files: string[]): Promise<void> {
  const payload = await Promise.all(files.map(async (f) => ({ name: path.basename(f), bytes: [...(await readFile(f))] })));
  const dataTransfer = await p.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const f of list) dt.items.add(new File([new Uint8Array(f.bytes)], f.name));
    return dt;
  }, payload);
  await p.dispatchEvent(selector, 'drop', { dataTransfer });
}
