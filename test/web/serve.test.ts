import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { serve } from '../../src/web/serve.js';

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
await symlink(path.join(base, 'secret.txt'), path.join(root, 'link-out.txt'));
await symlink(path.join(base, 'outside'), path.join(root, 'dir-out'));
await symlink(path.join(root, 'style.css'), path.join(root, 'link-in.css'));

const server = await serve({ dir: root, port: 0 });
after(async () => {
  await server.close();
  await rm(base, { recursive: true, force: true });
});

/** A raw request: the path goes on the wire exactly as given, as an attacker would send it. */
function get(rawPath: string, method = 'GET', host = '127.0.0.1'): Promise<{ status: number; type?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: server.port, path: rawPath, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body }));
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
  assert.equal((await get('/index.html', 'POST')).status, 405);
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
