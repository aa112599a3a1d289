import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { makeRunFixture } from '../helpers/run_fixture.js';

// export-web and serve through the real command line, as a user meets them.
const CLI = path.join(process.cwd(), 'dist/src/cli/bin.js');
const fixture = await makeRunFixture();
const base = await mkdtemp(path.join(os.tmpdir(), 'onnxtrain-web-cli-'));
after(async () => {
  await rm(fixture.dir, { recursive: true, force: true });
  await rm(base, { recursive: true, force: true });
});
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

test('export-web refuses a folder it did not write, keeps the user\'s files, and says what to do', async () => {
  const site = path.join(base, 'site');
  await mkdir(path.join(site, 'photos'), { recursive: true });
  await writeFile(path.join(site, 'precious.txt'), 'mine');
  await writeFile(path.join(site, 'config.json'), '{}');
  await writeFile(path.join(site, 'index.html'), '<p>');
  await writeFile(path.join(site, 'photos', 'cat.jpg'), 'cat');
  const r = cli('export-web', fixture.dir, '--out', site);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /was not written by export-web .*choose another --out/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
  assert.equal(await readFile(path.join(site, 'precious.txt'), 'utf8'), 'mine');
  assert.equal(await readFile(path.join(site, 'photos', 'cat.jpg'), 'utf8'), 'cat');
});

test('export-web: --train-all or --new-classes without --trainable is a usage error; --trainable on a run it cannot rebuild says why', () => {
  const usage = cli('export-web', fixture.dir, '--out', path.join(base, 'x'), '--train-all');
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /--train-all, --replay, --data-dir and --new-classes apply to a trainable page: add --trainable/);
  assert.equal(cli('export-web', fixture.dir, '--out', path.join(base, 'x'), '--new-classes', '2').status, 2);
  const bad = cli('export-web', fixture.dir, '--out', path.join(base, 'x'), '--trainable', '--new-classes', 'two');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /new-classes.*non-negative integer/);
  const r = cli('export-web', fixture.dir, '--out', path.join(base, 'y'), '--trainable');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--trainable: .*config\.json lacks "optimizer" or "dataset"; it was not written by npm run train/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
});

/** Start `serve` as a child process; resolves with its URL once it listens. */
function startServe(dir: string): Promise<{ url: URL; pid: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [CLI, 'serve', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const m = out.match(/at (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) resolve({ url: new URL(m[1]), pid: child.pid!, stop: () => new Promise((r) => { child.once('exit', () => r()); child.kill('SIGINT'); }) });
    });
    child.stderr.on('data', (c) => (out += c));
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
}

function request(url: URL, pathname: string, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: pathname, method }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('serve: 405 names the allowed methods, /web redirects to /web/, and aborted downloads free their files', { skip: process.platform === 'linux' ? false : 'counts /proc/<pid>/fd' }, async () => {
  const web = path.join(base, 'run-copy', 'web');
  await mkdir(path.dirname(web), { recursive: true });
  const exported = cli('export-web', fixture.dir, '--out', web);
  assert.equal(exported.status, 0, exported.stderr);
  const server = await startServe(path.dirname(web));
  try {
    const post = await request(server.url, '/web/index.html', 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    const redirect = await request(server.url, '/web');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, '/web/');

    const fds = async () => (await readdir(`/proc/${server.pid}/fd`)).length;
    const before = await fds();
    for (let i = 0; i < 300; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = http.get({ host: server.url.hostname, port: server.url.port, path: '/web/ort/ort-wasm-simd-threaded.jsep.wasm' }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve() : reject(e)));
      });
    }
    let now = await fds();
    for (let t = 0; t < 50 && now > before + 5; t++) {
      await new Promise((r) => setTimeout(r, 50));
      now = await fds();
    }
    assert.ok(now <= before + 5, `serve holds ${now - before} more file descriptors after 300 aborted downloads`);
    assert.equal((await request(server.url, '/web/')).status, 200, 'still answering');
  } finally {
    await server.stop();
  }
});
