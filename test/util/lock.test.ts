import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LOCK_FILE, lockFolder } from '../../src/util/lock.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'onnxtrain-lock-'));
const DEAD_PID = 2 ** 22 + 12345; // above Linux's pid_max: no such process

test('lockFolder: a lock from another host is held (its PID means nothing here) unless the caller says its owner is gone', async () => {
  const dir = tmp();
  const path = join(dir, LOCK_FILE);
  writeFileSync(path, JSON.stringify({ pid: DEAD_PID, host: 'other-machine', what: 'train', since: '2026-01-01T00:00:00Z' }));
  await assert.rejects(lockFolder(dir, 'train'), new RegExp(`in use by an onnxtrain process on another machine \\(other-machine, PID ${DEAD_PID}, train since .*\\): wait for it to finish; if that machine is gone, delete ${path.replace(/[/.]/g, '\\$&')}$`));
  const release = await lockFolder(dir, 'queue takeover', { foreignIsStale: true });
  const mine = JSON.parse(readFileSync(path, 'utf8'));
  assert.deepEqual([mine.pid, mine.host, mine.what], [process.pid, hostname(), 'queue takeover']);
  await release();
  assert.ok(!existsSync(path));
});

test('lockFolder: on this host a dead PID is stale, a live one holds; locks without a host are this host\'s', async () => {
  const dir = tmp();
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: DEAD_PID, what: 'train', since: 'x' }));
  const release = await lockFolder(dir, 'train');
  await assert.rejects(lockFolder(dir, 'train', { foreignIsStale: true }), /in use by another onnxtrain process \(PID \d+, train since/);
  await release();
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: 1, host: hostname(), what: 'train', since: 'x' }));
  await assert.rejects(lockFolder(dir, 'train', { foreignIsStale: true }), /in use by another onnxtrain process \(PID 1,/);
});
