import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

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

const inside = (root: string, p: string) => p === root || p.startsWith(root + path.sep);

/**
 * The file a request path names, or an HTTP status. Decodes the URL once, refuses NUL bytes and any path
 * that leaves the root before or after following symlinks; a folder serves its index.html.
 */
async function resolveRequest(root: string, urlPath: string): Promise<{ file: string } | { status: number }> {
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
    const send = (status: number, body = http.STATUS_CODES[status] ?? '') => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
      res.end(req.method === 'HEAD' ? undefined : body + '\n');
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405);
    const urlPath = (req.url ?? '/').split(/[?#]/)[0];
    try {
      const found = await resolveRequest(root, urlPath);
      if ('status' in found) return send(found.status);
      const size = (await stat(found.file)).size;
      res.writeHead(200, {
        'Content-Type': MIME[path.extname(found.file).toLowerCase()] ?? 'application/octet-stream',
        'Content-Length': size,
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
      });
      if (req.method === 'HEAD') return res.end();
      createReadStream(found.file).on('error', () => res.destroy()).pipe(res);
    } catch {
      send(500);
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
