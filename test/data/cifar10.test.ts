import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { CIFAR10_ARCHIVE, CIFAR10_TRAIN_FILES, loadCifar10 } from '../../src/data/cifar10.js';
import { readTar } from '../../src/data/tar.js';
import { makeCifarArchive, makeTar, serveFiles, tempDir } from './fixtures.js';

const scratch = tempDir();
after(() => scratch.remove());

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('hex');

test('download + extract + parse of a generated archive served on 127.0.0.1', async () => {
  const fx = makeCifarArchive(7);
  const server = await serveFiles({ [CIFAR10_ARCHIVE]: fx.archive });
  const dataDir = join(scratch.path, 'ok');
  mkdirSync(dataDir); // a data folder the caller names must exist
  const lines: string[] = [];
  try {
    const ds = await loadCifar10({
      dataDir, baseUrl: server.baseUrl, log: (s) => lines.push(s),
      archiveDigests: { md5: md5(fx.archive), sha256: sha256(fx.archive), size: fx.archive.length },
    });
    assert.deepEqual(server.requests, [CIFAR10_ARCHIVE]);
    assert.equal(ds.train.n, 35);
    assert.equal(ds.test.n, 7);
    assert.deepEqual([ds.train.channels, ds.train.height, ds.train.width], [3, 32, 32]);
    // Record r of batch b is training image 7b + r: label byte, then the 3072 planar RGB bytes.
    for (const [b, name] of CIFAR10_TRAIN_FILES.entries()) {
      for (const r of [0, 6]) {
        const rec = fx.batches[name].subarray(r * 3073, (r + 1) * 3073);
        const i = b * 7 + r;
        assert.equal(ds.train.labels[i], rec[0]);
        assert.deepEqual(ds.train.images.subarray(i * 3072, (i + 1) * 3072), rec.subarray(1));
      }
    }
    const test0 = fx.batches['test_batch.bin'];
    assert.equal(ds.test.labels[6], test0[6 * 3073]);
    assert.equal(ds.test.images[6 * 3072 + 1024], test0[6 * 3073 + 1 + 1024]); // first green pixel of the last test image
  } finally {
    await server.close();
  }
  const batchDir = join(dataDir, 'cifar-10-batches-bin');
  assert.deepEqual(readdirSync(batchDir).sort(), [
    'batches.meta.txt', 'data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin',
    'extracted.json', 'test_batch.bin',
  ]);
  assert.ok(lines.some((l) => l.includes('downloading')) && lines.some((l) => l.includes('extracting')));

  // Second load: from the extracted files, no server needed; a corrupted batch is caught by extracted.json.
  const again = await loadCifar10({ dataDir, download: false });
  assert.deepEqual(again.train.labels, (await loadCifar10({ dataDir, download: false })).train.labels);
  const bad = Buffer.from(readFileSync(join(batchDir, 'data_batch_3.bin')));
  bad[100] ^= 1;
  writeFileSync(join(batchDir, 'data_batch_3.bin'), bad);
  await assert.rejects(loadCifar10({ dataDir, download: false }), (e: Error) =>
    /cifar-10-batches-bin\/data_batch_3\.bin failed its sha256 checksum/.test(e.message) && /run again to re-extract$/.test(e.message));
  writeFileSync(join(batchDir, 'data_batch_3.bin'), bad.subarray(0, 3073 * 2 + 5));
  await assert.rejects(loadCifar10({ dataDir, download: false }), /data_batch_3\.bin is truncated or corrupt \(6151 bytes is not a whole number of 3073-byte records\)/);
});

test('a checksum mismatch on download names the archive and URL and leaves no file', async () => {
  const fx = makeCifarArchive(2, 5);
  const server = await serveFiles({ [CIFAR10_ARCHIVE]: fx.archive });
  const dataDir = join(scratch.path, 'mismatch');
  mkdirSync(dataDir); // a data folder the caller names must exist
  try {
    await assert.rejects(loadCifar10({ dataDir, baseUrl: server.baseUrl, archiveDigests: { sha256: '0'.repeat(64) } }), (e: Error) =>
      e.message.startsWith(`${CIFAR10_ARCHIVE} downloaded from ${server.baseUrl}${CIFAR10_ARCHIVE} failed its sha256 checksum (expected ${'0'.repeat(64)}, got ${sha256(fx.archive)})`));
    // With the default (official) digests the generated archive is rejected too, on its size.
    await assert.rejects(loadCifar10({ dataDir, baseUrl: server.baseUrl }), /has the wrong size \(expected 170052171 bytes/);
    assert.deepEqual(readdirSync(dataDir), []);
  } finally {
    await server.close();
  }
});

test('archives already on disk are verified before extraction; missing data names the folder', async () => {
  const fx = makeCifarArchive(3, 9);
  const dataDir = join(scratch.path, 'local');
  mkdirSync(dataDir);
  await assert.rejects(loadCifar10({ dataDir, download: false }), /CIFAR-10 is missing \(no cifar-10-batches-bin\/ or cifar-10-binary\.tar\.gz in .*local\)/);
  writeFileSync(join(dataDir, CIFAR10_ARCHIVE), fx.archive.subarray(0, 1000));
  await assert.rejects(loadCifar10({ dataDir, download: false, archiveDigests: { md5: md5(fx.archive) } }), (e: Error) =>
    e.message.includes(`${CIFAR10_ARCHIVE} failed its md5 checksum`) && e.message.endsWith('delete it and run again to re-download'));
  const cut = fx.archive.subarray(0, 20000);
  writeFileSync(join(dataDir, CIFAR10_ARCHIVE), cut);
  await assert.rejects(loadCifar10({ dataDir, download: false, archiveDigests: { md5: md5(cut) } }), /cifar-10-binary\.tar\.gz is not a valid gzip file/);
  const partial = gzipSync(makeTar([{ name: 'cifar-10-batches-bin/data_batch_1.bin', data: fx.batches['data_batch_1.bin'] }]));
  writeFileSync(join(dataDir, CIFAR10_ARCHIVE), partial);
  await assert.rejects(loadCifar10({ dataDir, download: false, archiveDigests: { md5: md5(partial) } }),
    /cifar-10-binary\.tar\.gz lacks cifar-10-batches-bin\/data_batch_2\.bin, .*test_batch\.bin/);
  writeFileSync(join(dataDir, CIFAR10_ARCHIVE), fx.archive);
  const ds = await loadCifar10({ dataDir, download: false, archiveDigests: { md5: md5(fx.archive) }, deleteArchive: true });
  assert.equal(ds.train.n, 15);
  assert.ok(!existsSync(join(dataDir, CIFAR10_ARCHIVE)));
});

test('tar reader: ustar prefix, GNU long names, pax paths, directories, checksum and truncation errors', () => {
  const long = `cifar-10-batches-bin/${'x'.repeat(120)}.bin`;
  const pax = Buffer.from(' path=cifar-10-batches-bin/from-pax.bin\n');
  const paxRecord = Buffer.concat([Buffer.from(String(pax.length + String(pax.length).length)), pax]);
  const tar = makeTar([
    { name: './dir/', type: '5' },
    { name: '././@LongLink', type: 'L', data: Buffer.from(`${long}\0`) },
    { name: 'truncated-name', data: Buffer.from('long') },
    { name: 'PaxHeaders/x', type: 'x', data: paxRecord },
    { name: 'ignored', data: Buffer.from('pax') },
    { name: 'plain.txt', data: new Uint8Array(513).fill(7) },
  ]);
  const entries = readTar(tar, 'mem.tar', 'fix');
  assert.deepEqual(entries.map((e) => [e.name, e.type, e.data.length]), [
    ['dir', 'directory', 0], [long, 'file', 4], ['cifar-10-batches-bin/from-pax.bin', 'file', 3], ['plain.txt', 'file', 513],
  ]);
  assert.equal(Buffer.from(entries[2].data).toString(), 'pax');
  const corrupt = Uint8Array.from(tar);
  corrupt[0] ^= 1;
  assert.throws(() => readTar(corrupt, 'mem.tar', 'fix'), /mem\.tar is not a valid tar archive \(header checksum at byte 0/);
  assert.throws(() => readTar(tar.subarray(0, 2048), 'mem.tar', 'fix'), /mem\.tar is truncated/);
});

test('tar reader agrees with the system tar (GNU format) when one is installed', (t) => {
  let version = '';
  try {
    version = execFileSync('tar', ['--version'], { encoding: 'utf8' });
  } catch {
    t.skip('no tar executable on PATH');
    return;
  }
  if (!/GNU tar/.test(version)) {
    t.skip('system tar is not GNU tar');
    return;
  }
  const root = join(scratch.path, 'gnutar');
  const deep = join(root, 'cifar-10-batches-bin', 'a'.repeat(60), 'b'.repeat(60));
  mkdirSync(deep, { recursive: true });
  const payload = Uint8Array.from({ length: 3073 * 3 }, (_, i) => (i * 13) % 256);
  writeFileSync(join(root, 'cifar-10-batches-bin', 'data_batch_1.bin'), payload);
  writeFileSync(join(deep, 'c'.repeat(40) + '.txt'), 'deep');
  const archive = join(scratch.path, 'gnu.tar');
  execFileSync('tar', ['--format=gnu', '-cf', archive, '-C', root, 'cifar-10-batches-bin']);
  const entries = readTar(readFileSync(archive), 'gnu.tar', 'fix');
  const byName = new Map(entries.map((e) => [e.name, e]));
  assert.deepEqual(new Uint8Array(byName.get('cifar-10-batches-bin/data_batch_1.bin')?.data ?? []), payload);
  const deepName = `cifar-10-batches-bin/${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(40)}.txt`;
  assert.equal(Buffer.from(byName.get(deepName)?.data ?? []).toString(), 'deep');
  assert.equal(byName.get('cifar-10-batches-bin')?.type, 'directory');
  rmSync(archive);
});
