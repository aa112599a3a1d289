/** Tampered safetensors files: one case per header field, then the same through --resume and --init. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadCheckpoint } from '../../src/artifacts/checkpoint.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/artifacts/safetensors.js';
import { tensor } from '../../src/graph/tensor.js';
import { assertRefused, cli, copyOfRun, joinSafetensors, noData, oneLine, scratch, splitSafetensors, tamper } from './helpers.js';

// a: bytes 0..24, b: 24..40, c: 40..48 of a 48-byte data section.
const GOOD = encodeSafetensors(new Map([
  ['a', tensor('float32', [2, 3], [1, 2, 3, 4, 5, 6])],
  ['b', tensor('float32', [4], [7, 8, 9, 10])],
  ['c', tensor('int64', [], [11])],
]), { onnxtrain: JSON.stringify({ model: 'simple-mlp', epoch: 1, step: 10 }) });

const INVALID = (why: string) => new RegExp(`^x\\.safetensors is not a valid safetensors file \\(${why}.*\\): re-create it, or pick another checkpoint$`);
const decode = (bytes: Uint8Array) => () => decodeSafetensors(bytes, 'x.safetensors');

test('the untampered file decodes', () => {
  assert.deepEqual([...decodeSafetensors(GOOD).tensors.keys()], ['a', 'b', 'c']);
});

const CASES: [string, (h: Record<string, any>) => void, string][] = [
  ['negative offset', (h) => { h.b.data_offsets = [-8, 8]; }, "tensor 'b' has data_offsets \\[-8,8\\], not \\[begin, end\\] with 0 <= begin <= end"],
  ['end before begin', (h) => { h.b.data_offsets = [40, 24]; }, "tensor 'b' has data_offsets \\[40,24\\]"],
  ['fractional offset', (h) => { h.b.data_offsets = [24, 40.5]; }, "tensor 'b' has data_offsets \\[24,40.5\\]"],
  ['overlapping offsets', (h) => { h.b.data_offsets = [16, 32]; }, "tensor 'b' at bytes 16..32 overlaps the tensor before it \\(ending at 24\\)"],
  ['two tensors on the same bytes', (h) => { h.b.data_offsets = [0, 16]; h.b.shape = [4]; }, "tensor 'a' at bytes 0..24 overlaps the tensor before it \\(ending at 16\\)"],
  ['gap between tensors', (h) => { h.b.data_offsets = [28, 44]; }, "a gap of 4 bytes precedes tensor 'b' at bytes 28..44"],
  ['gap before the first tensor', (h) => { h.a.data_offsets = [8, 32]; h.b.data_offsets = [32, 48]; delete h.c; }, "a gap of 8 bytes precedes tensor 'a'"],
  ['span beyond the file', (h) => { h.c.shape = [2]; h.c.data_offsets = [40, 56]; }, "tensor 'c' at bytes 40..56 runs past the 48-byte data section \\(truncated\\?\\)"],
  ['bytes after the last tensor', (h) => { h.c.shape = [0]; h.c.data_offsets = [40, 40]; }, '8 bytes follow the last tensor in the data section'],
  ['unknown dtype', (h) => { h.a.dtype = 'Q7'; }, "tensor 'a' has unsupported dtype \"Q7\" \\(known: F32, F64, I64, I32, U8, BOOL\\)"],
  ['dtype missing', (h) => { delete h.a.dtype; }, "tensor 'a' has unsupported dtype undefined"],
  ['dtype of another size', (h) => { h.a.dtype = 'F64'; }, "tensor 'a' of shape \\[2,3\\] F64 needs 48 bytes, its data_offsets span 24"],
  ['shape larger than its bytes', (h) => { h.a.shape = [20, 30]; }, "tensor 'a' of shape \\[20,30\\] F32 needs 2400 bytes, its data_offsets span 24"],
  ['negative dimension', (h) => { h.a.shape = [-2, -3]; }, "tensor 'a' has shape \\[-2,-3\\], not a list of sizes"],
  ['shape not a list', (h) => { h.a.shape = '2x3'; }, "tensor 'a' has shape \"2x3\", not a list of sizes"],
  ['entry not an object', (h) => { h.a = [1]; }, "tensor 'a' is not an object"],
  ['metadata values not strings', (h) => { h.__metadata__ = { onnxtrain: { epoch: 1 } }; }, '__metadata__ is not an object of strings'],
];

for (const [name, edit, why] of CASES) {
  test(`tampered header: ${name}`, () => {
    assert.throws(decode(tamper(GOOD, edit)), oneLine(INVALID(why)));
  });
}

test('tampered header: duplicate name (JSON.parse would keep the last silently)', () => {
  const { header, data } = splitSafetensors(GOOD);
  const text = JSON.stringify(header).replace('"b":', '"a":');
  assert.throws(decode(joinSafetensors(text, data)), oneLine(INVALID("tensor 'a' appears twice in the header")));
});

test('tampered header: a nested key that repeats a tensor name is not a duplicate', () => {
  const { header, data } = splitSafetensors(GOOD);
  header.__metadata__ = { a: 'x', 'say \\"a\\": ': 'y' };
  assert.deepEqual([...decodeSafetensors(joinSafetensors(JSON.stringify(header), data)).tensors.keys()], ['a', 'b', 'c']);
});

test('tampered header: header length beyond the file', () => {
  const { header, data } = splitSafetensors(GOOD);
  const bytes = joinSafetensors(JSON.stringify(header), data, 10_000n);
  assert.throws(decode(bytes), oneLine(INVALID(`header length 10000 runs past the end of the ${bytes.length}-byte file`)));
});

test('tampered header: header length above the 100 MB bound (refused before any parsing)', () => {
  const { header, data } = splitSafetensors(GOOD);
  assert.throws(decode(joinSafetensors(JSON.stringify(header), data, 1n << 60n)), oneLine(INVALID('header length 1152921504606846976 is above the 100000000-byte limit')));
});

test('tampered header: shorter than the 8-byte length, non-JSON, non-object, non-UTF-8', () => {
  assert.throws(decode(new Uint8Array(5)), oneLine(INVALID('5 bytes, shorter than the 8-byte header length')));
  const { data } = splitSafetensors(GOOD);
  assert.throws(decode(joinSafetensors('{"a": ', data)), oneLine(INVALID('header is not JSON')));
  assert.throws(decode(joinSafetensors('[1, 2]', data)), oneLine(INVALID('header is not a JSON object')));
  assert.throws(decode(joinSafetensors('null', data)), oneLine(INVALID('header is not a JSON object')));
  const latin1 = Buffer.concat([Buffer.from('{"\xff":1}', 'latin1')]);
  assert.throws(decode(joinSafetensors(latin1.toString('latin1'), data)), /not a valid safetensors file/);
});

test('missing onnxtrain metadata (e.g. written by safetensors.torch): usable with --init, not --resume', async () => {
  const dir = scratch();
  const { data, header } = splitSafetensors(GOOD);
  delete header.__metadata__;
  writeFileSync(join(dir, 'torch.safetensors'), joinSafetensors(JSON.stringify(header), data));
  await assert.rejects(loadCheckpoint(join(dir, 'torch.safetensors')),
    oneLine(/torch\.safetensors has no onnxtrain metadata \(written by another tool, e\.g\. safetensors\.torch\): it can start a run with --init, but cannot be resumed$/));
});

test('onnxtrain metadata of the wrong types names the field', async () => {
  const dir = scratch();
  const cases: [string, RegExp][] = [
    ['{"model":"simple-mlp","epoch":"3","step":0}', /field 'epoch' is "3", expected a non-negative integer/],
    ['{"epoch":3,"step":0}', /field 'model' is missing, expected a model name/],
    ['{"model":"simple-mlp","epoch":3,"step":-1}', /field 'step' is -1, expected a non-negative integer/],
    ['{"model":"simple-mlp","epoch":3,"step":0,"history":{}}', /field 'history' is \{\}, expected a list/],
    ['{"model":"simple-mlp","epoch":3,"step":0,"rng":null}', /field 'rng' is null, expected an object/],
    ['[1]', /is not a JSON object/],
    ['{"model":', /is not JSON/],
  ];
  for (const [meta, re] of cases) {
    const path = join(dir, 'm.safetensors');
    writeFileSync(path, tamper(GOOD, (h) => { h.__metadata__.onnxtrain = meta; }));
    await assert.rejects(loadCheckpoint(path), oneLine(new RegExp(`m\\.safetensors: checkpoint metadata ${re.source}.*: the file is damaged; use the other checkpoint \\(last/best\\) of the run$`)), meta);
  }
});

test('--resume of a run whose checkpoint has a negative offset fails with one line instead of training on header bytes', { skip: noData }, () => {
  const run = copyOfRun();
  const last = join(run, 'last.safetensors');
  writeFileSync(last, tamper(readFileSync(last), (h) => {
    const name = Object.keys(h).find((k) => k !== '__metadata__')!;
    h[name].data_offsets = [h[name].data_offsets[0] - 64, h[name].data_offsets[1] - 64];
  }));
  assertRefused(cli(['train', '--resume', run, '--epochs', '2']), /^onnxtrain: .*last\.safetensors is not a valid safetensors file \(tensor '.*' has data_offsets \[-64,.*\): re-create it, or pick another checkpoint$/);
});

test('--resume of a checkpoint without onnxtrain metadata says to use --init', { skip: noData }, () => {
  const run = copyOfRun();
  const last = join(run, 'last.safetensors');
  const { header, data } = splitSafetensors(readFileSync(last));
  delete header.__metadata__;
  writeFileSync(last, joinSafetensors(JSON.stringify(header), data));
  assertRefused(cli(['train', '--resume', run, '--epochs', '2']), /last\.safetensors has no onnxtrain metadata .*it can start a run with --init, but cannot be resumed$/);
});

test('--init of a tampered .safetensors fails with one line naming --init and the file', { skip: noData }, () => {
  const run = copyOfRun();
  const bad = join(run, 'bad.safetensors');
  writeFileSync(bad, tamper(readFileSync(join(run, 'best.safetensors')), (h) => { h['layers.0.weight'].shape = [9999, 9999]; }));
  assertRefused(cli(['train', 'simple-mlp', '--init', bad, '--limit', '600', '--epochs', '1', '--out', join(scratch(), 'o')]),
    /^onnxtrain: --init .*bad\.safetensors is not a valid safetensors file \(tensor 'layers\.0\.weight' of shape \[9999,9999\] F32 needs \d+ bytes, its data_offsets span \d+\)/);
});

test('--init accepts a checkpoint without onnxtrain metadata (a PyTorch state_dict)', { skip: noData }, () => {
  const run = copyOfRun();
  const torch = join(run, 'torch.safetensors');
  const { header, data } = splitSafetensors(readFileSync(join(run, 'best.safetensors')));
  delete header.__metadata__;
  writeFileSync(torch, joinSafetensors(JSON.stringify(header), data));
  const r = cli(['train', 'simple-mlp', '--init', torch, '--limit', '600', '--epochs', '1', '--out', join(scratch(), 'o')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Initial weights from .*torch\.safetensors: \d+ tensors loaded/);
});
