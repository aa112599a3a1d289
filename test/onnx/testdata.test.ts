import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import ort from 'onnxruntime-node';
import { decodeModel, encodeModel } from '../../src/onnx/model.js';
import { canonicalModel } from './proto.js';

/** ONNX's backend test models (node, simple, pytorch-converted, pytorch-operator), as Debian ships them. */
const DATA = '/usr/share/libonnx-testdata/data';

function models(): string[] {
  const out: string[] = [];
  for (const group of readdirSync(DATA)) {
    for (const name of readdirSync(join(DATA, group))) if (existsSync(join(DATA, group, name, 'model.onnx'))) out.push(join(group, name));
  }
  return out.sort();
}

const loads = async (bytes: Uint8Array) => {
  try {
    await (await ort.InferenceSession.create(bytes, { logSeverityLevel: 4 })).release();
    return true;
  } catch {
    return false;
  }
};

test('every ONNX backend test model decodes and re-encodes to the same model, and a sample still loads in onnxruntime-node',
  { skip: existsSync(DATA) ? false : `${DATA} is missing: apt-get install libonnx-testdata` }, async () => {
    const all = models();
    assert.ok(all.length > 1000, `${all.length} models in ${DATA}`);
    const differ: string[] = [];
    const notLoaded: string[] = [];
    let sampled = 0;
    const every = Math.ceil(all.length / 50);
    for (const [i, name] of all.entries()) {
      const bytes = readFileSync(join(DATA, name, 'model.onnx'));
      const m = decodeModel(bytes);
      const again = encodeModel(m.graph, m);
      if (!isDeepStrictEqual(canonicalModel(again), canonicalModel(bytes))) differ.push(name);
      else assert.deepEqual(decodeModel(again), m, name);
      if (i % every === 0 && (await loads(bytes))) {
        sampled++;
        if (!(await loads(again))) notLoaded.push(name);
      }
    }
    assert.deepEqual(differ, [], 'models whose re-encoded bytes decode to a different model');
    assert.deepEqual(notLoaded, [], 'models onnxruntime-node loads, but not once re-encoded');
    assert.ok(sampled >= 40, `only ${sampled} sampled models load in onnxruntime-node`);
  });
