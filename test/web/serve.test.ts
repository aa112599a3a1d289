import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { acceptedEncodings, serve } from '../../src/web/serve.js';

const base = await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-serve-'));
const root = path.join(base, 'site');
await mkdir(path.join(root, 'ort'), { recursive: true });
await mkdir(path.join(root, 'empty'), { recursive: true });
await writeFile(path.join(base, 'secret.txt'), 'top secret');
await mkdir(path.join(base, 'outside'));
await writeFile(path.join(base, 'outside', 'x.txt'), 'outside');
const files: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'ort/ort.min.mjs': 'text/javascript; charset=utf-8',
  'ort/runtime.wasm': 'application/wasm',
  'model.onnx': 'application/octet-stream',
  'config.json': 'application/json; charset=utf-8',
  'sample one.png': 'image/png',
};
for (const f of Object.keys(files)) await writeFile(path.join(root, f), `content of ${f}`);
const big = Buffer.alloc(8 << 20, 7);
await writeFile(path.join(root, 'ort', 'big.wasm'), big);
const packed = 'const x = 1;\n'.repeat(1000);
await writeFile(path.join(root, 'packed.js'), packed);
await writeFile(path.join(root, 'packed.js.gz'), zlib.gzipSync(packed));
await writeFile(path.join(root, 'packed.js.br'), zlib.brotliCompressSync(packed));
await writeFile(path.join(root, 'tagged.js'), packed);
await writeFile(path.join(root, 'tagged.js.gz'), zlib.gzipSync(packed));
await mkdir(path.join(root, 'web'));
await writeFile(path.join(root, 'web', 'index.html'), 'inner page');
await symlink(path.join(base, 'secret.txt'), path.join(root, 'link-out.txt'));
await symlink(path.join(base, 'outside'), path.join(root, 'dir-out'));
await symlink(path.join(root, 'style.css'), path.join(root, 'link-in.css'));

const server = await serve({ dir: root, port: 0 });
after(async () => {
  await server.close();
  await rm(base, { recursive: true, force: true });
});

interface Reply {
  status: number;
  type?: string;
  body: string;
  raw: Buffer;
  headers: http.IncomingHttpHeaders;
}

/** A raw request: the path goes on the wire exactly as given, as an attacker would send it. */
function get(rawPath: string, method = 'GET', host = '127.0.0.1', headers: http.OutgoingHttpHeaders = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: server.port, path: rawPath, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, type: res.headers['content-type'], body: raw.toString('utf8'), raw, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

test('serves files from the folder with the right MIME types', async () => {
  for (const [f, type] of Object.entries(files)) {
    const r = await get('/' + encodeURIComponent(f).replace(/%2F/g, '/'));
    assert.equal(r.status, 200, f);
    assert.equal(r.type, type, f);
    assert.equal(r.body, `content of ${f}`);
  }
  const index = await get('/');
  assert.equal(index.body, 'content of index.html');
  assert.equal((await get('/config.json?v=2')).status, 200);
  assert.equal((await get('/link-in.css')).body, 'content of style.css');
  const head = await get('/model.onnx', 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
});

test('nothing outside the folder is reachable: traversal, encoded traversal, symlinks out', async () => {
  const attempts = [
    '/../secret.txt',
    '/../../../../etc/passwd',
    '/ort/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E%2Fsecret.txt',
    '/..%2fsecret.txt',
    '/ort/..%2F..%2Fsecret.txt',
    '/..%5csecret.txt',
    '/%252e%252e/secret.txt',
    '/link-out.txt',
    '/dir-out/x.txt',
    '/dir-out/',
    '//etc/passwd',
    `/${encodeURIComponent(path.join(base, 'secret.txt'))}`,
    '/index.html%00.png',
    '/%E0%A4%A',
  ];
  for (const p of attempts) {
    const r = await get(p);
    assert.ok([400, 403, 404].includes(r.status), `${p} -> ${r.status}`);
    assert.ok(!r.body.includes('top secret') && !r.body.includes('outside') && !r.body.includes('root:'), p);
  }
  assert.equal((await get('/nope.js')).status, 404);
  assert.equal((await get('/empty/')).status, 404);
});

test('other methods get 405 with an Allow header', async () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
    const r = await get('/index.html', method);
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.allow, 'GET, HEAD', method);
  }
});

test('a folder named without its slash redirects to it, keeping the query', async () => {
  const r = await get('/web?backend=wasm');
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, '/web/?backend=wasm');
  assert.equal((await get('/web/')).body, 'inner page');
  // Never a protocol-relative redirect off the host.
  const odd = await get('//web');
  assert.ok(odd.status !== 301 || odd.headers.location === '/web/', `//web -> ${odd.headers.location}`);
});

test('Accept-Encoding picks the .br or .gz copy; the copy is ignored once the file is newer', async () => {
  const br = await get('/packed.js', 'GET', '127.0.0.1', { 'Accept-Encoding': 'gzip, deflate, br' });
  assert.equal(br.headers['content-encoding'], 'br');
  assert.equal(br.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(br.headers.vary, 'Accept-Encoding');
  assert.equal(zlib.brotliDecompressSync(br.raw).toString(), packed);
  const gz = await get('/packed.js', 'GET', '127.0.0.1', { 'Accept-Encoding': 'gzip, br;q=0' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(zlib.gunzipSync(gz.raw).toString(), packed);
  const plain = await get('/packed.js');
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.equal(plain.body, packed);
  assert.deepEqual([...acceptedEncodings('gzip;q=0.5, br;q=0, *')], ['gzip', '*']);

  const later = new Date(Date.now() + 60_000);
  await utimes(path.join(root, 'packed.js'), later, later);
  const edited = await get('/packed.js', 'GET', '127.0.0.1', { 'Accept-Encoding': 'br' });
  assert.equal(edited.headers['content-encoding'], undefined, 'a stale .br copy is not served');
  assert.equal(edited.body, packed);
});

test('ETag and Last-Modified: a revalidation answers 304 with no body, per encoding', async () => {
  const first = await get('/tagged.js', 'GET', '127.0.0.1', { 'Accept-Encoding': 'gzip' });
  const tag = first.headers.etag!;
  assert.match(tag, /^"[0-9a-f]+-[0-9a-f]+-gzip"$/);
  assert.equal(first.headers['cache-control'], 'no-cache');
  const again = await get('/tagged.js', 'GET', '127.0.0.1', { 'Accept-Encoding': 'gzip', 'If-None-Match': tag });
  assert.equal(again.status, 304);
  assert.equal(again.raw.length, 0);
  assert.equal(again.headers.etag, tag);
  const other = await get('/tagged.js', 'GET', '127.0.0.1', { 'Accept-Encoding': 'identity', 'If-None-Match': tag });
  assert.equal(other.status, 200, 'another encoding is another representation');
  const since = await get('/style.css', 'GET', '127.0.0.1', { 'If-Modified-Since': first.headers.date! });
  assert.equal(since.status, 304);
});

/** Open file descriptors of this process (Linux). */
const openFds = async () => (await readdir('/proc/self/fd')).length;

test('aborted downloads leave no open file behind', { skip: process.platform === 'linux' ? false : 'counts /proc/self/fd' }, async () => {
  const before = await openFds();
  for (let i = 0; i < 200; i++) {
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: server.port, path: '/ort/big.wasm' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve() : reject(e)));
    });
  }
  // The server notices each closed socket on its next write; give it a moment.
  let after = await openFds();
  for (let t = 0; t < 50 && after > before + 5; t++) {
    await new Promise((r) => setTimeout(r, 50));
    after = await openFds();
  }
  assert.ok(after <= before + 5, `${after - before} file descriptors still open after 200 aborted downloads`);
});

test('binds 127.0.0.1 only', async () => {
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const external = Object.values(os.networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
  if (external) await assert.rejects(get('/', 'GET', external.address), /ECONNREFUSED/);
  await assert.rejects(get('/', 'GET', '::1'), /ECONNREFUSED|EADDRNOTAVAIL|EAFNOSUPPORT|ENETUNREACH/);
});

test('a missing folder or a busy port fails with a clear message', async () => {
  await assert.rejects(serve({ dir: path.join(base, 'nope'), port: 0 }), /is not a folder; give the folder written by export-web/);
  await assert.rejects(serve({ dir: root, port: server.port }), new RegExp(`port ${server.port} is in use`));
});
