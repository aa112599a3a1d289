import { createReadStream, type Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream';

export interface ServeSettings {
  /** Folder to serve; nothing outside it is ever read. */
  dir: string;
  /** TCP port on 127.0.0.1; default 8080; 0 picks a free one. */
  port?: number;
}

export interface Server {
  /** http://127.0.0.1:<port>/ */
  url: string;
  port: number;
  close(): Promise<void>;
}

export const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Path and query (with its '?') of a request URL; a fragment is dropped. */
function splitUrl(url: string): [string, string] {
  const noHash = url.split('#')[0];
  const q = noHash.indexOf('?');
  return q < 0 ? [noHash, ''] : [noHash.slice(0, q), noHash.slice(q)];
}

/** Content codings the client accepts with q > 0, from an Accept-Encoding header. */
export function acceptedEncodings(header: string | undefined): Set<string> {
  const ok = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (name && !(q && !(Number(q.slice(2)) > 0))) ok.add(name);
  }
  return ok;
}

/** Pre-compressed copies export-web writes beside a file, best first. */
const ENCODINGS = [{ name: 'br', ext: '.br' }, { name: 'gzip', ext: '.gz' }] as const;

interface Picked {
  path: string;
  info: Stats;
  /** Content-Encoding, when a compressed copy is sent. */
  encoding?: string;
  /** Whether another client could get another copy (then the response varies by Accept-Encoding). */
  negotiable: boolean;
}

/**
 * The file itself or its `.br`/`.gz` copy, the best the client accepts. A copy counts only inside the root
 * and when not older than the file, so a file edited by hand after export-web is served as edited.
 */
async function pickEncoding(root: string, file: string, acceptEncoding: string | undefined): Promise<Picked> {
  const accepted = acceptedEncodings(acceptEncoding);
  const original = await stat(file);
  let negotiable = false;
  for (const { name, ext } of ENCODINGS) {
    const copy = await realpath(file + ext).catch(() => undefined);
    const info = copy && inside(root, copy) ? await stat(copy).catch(() => undefined) : undefined;
    if (!info?.isFile() || info.mtimeMs < original.mtimeMs) continue;
    negotiable = true;
    if (accepted.has(name)) return { path: copy!, info, encoding: name, negotiable };
  }
  return { path: file, info: original, negotiable };
}

/** A strong validator from size and modification time; each encoding is its own representation. */
function etag(info: Stats, encoding: string | undefined): string {
  return `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}${encoding ? '-' + encoding : ''}"`;
}

function notModified(req: http.IncomingMessage, tag: string, info: Stats): boolean {
  const match = req.headers['if-none-match'];
  if (match !== undefined) return match.split(',').some((t) => t.trim().replace(/^W\//, '') === tag || t.trim() === '*');
  const since = Date.parse(req.headers['if-modified-since'] ?? '');
  return Number.isFinite(since) && Math.floor(info.mtimeMs / 1000) * 1000 <= since;
}

const inside = (root: string, p: string) => p === root || p.startsWith(root + path.sep);

/**
 * The file a request path names, a redirect, or an HTTP status. Decodes the URL once, refuses NUL bytes and
 * any path that leaves the root before or after following symlinks; a folder serves its index.html, and a
 * folder named without its trailing slash redirects to it, so the page's relative URLs resolve inside it.
 */
async function resolveRequest(root: string, urlPath: string): Promise<{ file: string } | { status: number } | { redirect: string }> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return { status: 400 };
  }
  if (decoded.includes('\0')) return { status: 400 };
  const target = path.resolve(root, '.' + path.posix.normalize('/' + decoded));
  // Raw '..' segments are normalised away above; this check guards what normalisation cannot see.
  if (!inside(root, target) || decoded.split(/[\\/]/).includes('..')) return { status: 403 };
  let real: string;
  try {
    real = await realpath(target);
  } catch {
    return { status: 404 };
  }
  if (!inside(root, real)) return { status: 403 };
  const info = await stat(real);
  if (info.isDirectory()) {
    if (!urlPath.endsWith('/')) return { redirect: urlPath.replace(/^\/+/, '/') + '/' };
    const index = path.join(real, 'index.html');
    const ok = await realpath(index).then((r) => inside(root, r), () => false);
    return ok ? { file: index } : { status: 404 };
  }
  return info.isFile() ? { file: real } : { status: 404 };
}

/** A static file server for an exported page, bound to 127.0.0.1 only. */
export async function serve(settings: ServeSettings): Promise<Server> {
  const { port = 8080 } = settings;
  const info = await stat(settings.dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new Error(`serve: '${settings.dir}' is not a folder; give the folder written by export-web`);
  const root = await realpath(settings.dir);
  const server = http.createServer(async (req, res) => {
    const send = (status: number, headers: http.OutgoingHttpHeaders = {}, body = http.STATUS_CODES[status] ?? '') => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body + '\n');
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { Allow: 'GET, HEAD' });
    const [urlPath, query] = splitUrl(req.url ?? '/');
    try {
      const found = await resolveRequest(root, urlPath);
      if ('status' in found) return send(found.status);
      if ('redirect' in found) return send(301, { Location: found.redirect + query });
      const file = await pickEncoding(root, found.file, req.headers['accept-encoding']);
      const headers: http.OutgoingHttpHeaders = {
        'Content-Type': MIME[path.extname(found.file).toLowerCase()] ?? 'application/octet-stream',
        // Revalidate on every use: a re-export changes files under the same names; a 304 costs ~200 bytes.
        'Cache-Control': 'no-cache',
        ETag: etag(file.info, file.encoding),
        'Last-Modified': file.info.mtime.toUTCString(),
        'X-Content-Type-Options': 'nosniff',
      };
      if (file.negotiable) headers.Vary = 'Accept-Encoding';
      if (file.encoding) headers['Content-Encoding'] = file.encoding;
      if (notModified(req, headers.ETag as string, file.info)) {
        res.writeHead(304, headers);
        return res.end();
      }
      res.writeHead(200, { ...headers, 'Content-Length': file.info.size });
      if (req.method === 'HEAD') return res.end();
      // pipeline destroys the file stream when the client goes away, so an aborted download frees its fd.
      pipeline(createReadStream(file.path), res, () => {});
    } catch {
      if (res.headersSent) res.destroy();
      else send(500);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(e.code === 'EADDRINUSE' ? `serve: port ${port} is in use on 127.0.0.1; pick another with --port` : `serve: ${e.message}`)));
    server.listen(port, '127.0.0.1', resolve);
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}/`,
    port: actual,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
