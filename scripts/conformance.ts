/**
 * `node dist/scripts/conformance.js [--verbose] [NAME ...]`
 *
 * The op table against ONNX's own node tests (Debian libonnx-testdata, data/node/test_*): for every test
 * whose ops all have a rule in the table,
 *   1. round trip: decode, re-encode, load in onnxruntime-node and run every test_data_set_* of the test,
 *      outputs within ONNX's backend tolerances (rtol 1e-3, atol 1e-7);
 *   2. gradcheck: where its op (a one-node test) has a gradient rule, the gradient of sum(output R) with
 *      respect to every float input, at the test's own inputs, against central differences (float64 where
 *      onnxruntime has the op's double kernel, else float32).
 * Prints the counts, and with --verbose every test that did not pass and why. docs/import.md quotes them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import type { Tensor } from '../src/graph/tensor.js';
import { decodeModel, decodeTensorProto, encodeModel } from '../src/onnx/model.js';
import { IMPORT_OPSETS } from '../src/import/import.js';
import { RULES } from '../src/ops/index.js';
import { gradcheck, type CheckInput } from '../test/helpers/gradcheck.js';

export const NODE_TESTS = '/usr/share/libonnx-testdata/data/node';

/** What became of one test: 'skip' when some op has no rule, or its data has a dtype onnxtrain has no Tensor for. */
export interface TestOutcome {
  name: string;
  ops: string[];
  roundTrip: 'pass' | 'fail' | 'ort-rejects-original' | 'ort-differs-on-original' | 'random' | 'skip';
  gradient: 'pass' | 'fail' | 'refused' | 'too-large' | 'none' | 'random' | 'skip';
  detail?: string;
}

export interface ConformanceCounts {
  tests: number;
  withRules: number;
  roundTrip: Record<TestOutcome['roundTrip'], number>;
  gradient: Record<TestOutcome['gradient'], number>;
  /** Ops with a gradient rule that some test gradchecked, and how many of their tests passed. */
  gradOps: Record<string, { pass: number; of: number }>;
}

/** Gradchecks stop here: two runs per element. */
const MAX_GRAD_ELEMENTS = 1500;

export function nodeTests(dir = NODE_TESTS): string[] {
  return readdirSync(dir).filter((n) => existsSync(join(dir, n, 'model.onnx'))).sort();
}

const toOrt = (t: Tensor) => new ort.Tensor(t.dtype, t.data as Float32Array, t.dims);

function dataSets(dir: string): { inputs: Tensor[]; outputs: Tensor[] }[] | undefined {
  const out: { inputs: Tensor[]; outputs: Tensor[] }[] = [];
  for (const set of readdirSync(dir).filter((d) => d.startsWith('test_data_set_')).sort()) {
    const read = (prefix: string) => readdirSync(join(dir, set)).filter((f) => f.startsWith(prefix)).sort((a, b) => parseInt(a.slice(prefix.length)) - parseInt(b.slice(prefix.length)))
      .map((f) => decodeTensorProto(readFileSync(join(dir, set, f))));
    const inputs = read('input_');
    const outputs = read('output_');
    if ([...inputs, ...outputs].some((t) => !t)) return undefined;
    out.push({ inputs: inputs as Tensor[], outputs: outputs as Tensor[] });
  }
  return out;
}

function close(got: ort.Tensor, want: Tensor): boolean {
  if (got.dims.join() !== want.dims.join()) return false;
  const a = got.data as ArrayLike<number | bigint>;
  const b = want.data as ArrayLike<number | bigint>;
  for (let i = 0; i < b.length; i++) {
    const [x, y] = [Number(a[i]), Number(b[i])];
    if (Number.isNaN(y) ? !Number.isNaN(x) : !(Math.abs(x - y) <= 1e-7 + 1e-3 * Math.abs(y))) return false;
  }
  return true;
}

async function session(bytes: Uint8Array): Promise<ort.InferenceSession | undefined> {
  try {
    return await ort.InferenceSession.create(bytes, { logSeverityLevel: 4, intraOpNumThreads: 1 });
  } catch {
    return undefined;
  }
}

export async function checkTest(name: string, dir = NODE_TESTS): Promise<TestOutcome> {
  const path = join(dir, name);
  const bytes = new Uint8Array(readFileSync(join(path, 'model.onnx')));
  const m = decodeModel(bytes);
  const ops = [...new Set(m.graph.nodes.map((n) => n.opType))];
  const outcome: TestOutcome = { name, ops, roundTrip: 'skip', gradient: 'skip' };
  if (!ops.every((op) => RULES[op]) || m.graph.nodes.some((n) => n.domain && n.domain !== 'ai.onnx')) return outcome;
  // The op table states opset 17's ops; opset 18 moved reduction axes and Split's sizes to inputs. Older
  // tests run: most of their ops mean the same, and where one does not the rule says so.
  if (m.opset > IMPORT_OPSETS[1]) return { ...outcome, detail: `opset ${m.opset}` };
  if ([...m.graph.inputs, ...m.graph.outputs].some((v) => !v.dtype)) return { ...outcome, detail: 'a sequence, optional or float16 input or output' };
  // Dropout in training mode draws its own mask: neither its outputs nor finite differences repeat.
  const drawn = m.graph.nodes.some((n) => n.opType === 'Dropout' && n.inputs[2]);
  if (drawn) return { ...outcome, roundTrip: 'random', gradient: 'random' };
  const sets = dataSets(path);
  if (!sets) return { ...outcome, detail: 'test data of a dtype onnxtrain has no Tensor for' };
  const inputs = m.graph.inputs.filter((v) => !m.graph.initializers.has(v.name));

  const runs = async (sess: ort.InferenceSession): Promise<boolean> => {
    let ok = true;
    for (const set of sets) {
      const res = await sess.run(Object.fromEntries(inputs.map((v, i) => [v.name, toOrt(set.inputs[i])])));
      m.graph.outputs.forEach((v, i) => {
        if (!close(res[v.name], set.outputs[i])) ok = false;
      });
    }
    return ok;
  };
  const original = async (): Promise<TestOutcome['roundTrip']> => {
    const o = await session(bytes);
    if (!o) return 'ort-rejects-original';
    const ok = await runs(o).catch(() => false);
    await o.release();
    return ok ? 'fail' : 'ort-differs-on-original';
  };
  const s = await session(encodeModel(m.graph, m));
  if (!s) {
    outcome.roundTrip = await original();
    outcome.detail = 're-encoded model does not load';
  } else {
    try {
      const ok = await runs(s);
      outcome.roundTrip = ok ? 'pass' : await original();
      if (!ok) outcome.detail = 'outputs differ from the expected ones';
    } catch (e) {
      outcome.roundTrip = await original();
      outcome.detail = (e as Error).message.split('\n')[0];
    }
    await s.release();
  }

  const node = m.graph.nodes[0];
  const floatOut = m.graph.outputs[0].dtype === 'float32' || m.graph.outputs[0].dtype === 'float64';
  if (m.graph.nodes.length !== 1 || !RULES[node.opType].grad || !floatOut) return { ...outcome, gradient: 'none' };
  const feeds = new Map(inputs.map((v, i) => [v.name, sets[0].inputs[i]]));
  const floats = node.inputs.filter((i) => feeds.get(i)?.dtype === 'float32' || feeds.get(i)?.dtype === 'float64');
  if (!floats.length) return { ...outcome, gradient: 'none' };
  const elements = floats.reduce((k, i) => k + feeds.get(i)!.data.length, 0);
  if (elements > MAX_GRAD_ELEMENTS) return { ...outcome, gradient: 'too-large', detail: `${elements} input elements` };
  // Inputs a rule gives no gradient (Clip's bounds, class weights) become constants: the rule names them.
  const fixed = new Set<string>();
  const checkInputs = (dtype: 'float64' | 'float32'): Record<string, CheckInput> => {
    const out: Record<string, CheckInput> = {};
    for (const i of node.inputs) {
      const t = feeds.get(i) ?? m.graph.initializers.get(i);
      if (!i || !t) continue;
      const float = t.dtype === 'float32' || t.dtype === 'float64';
      out[i] = { dims: t.dims, values: Array.from(t.data as ArrayLike<number | bigint>, Number), dtype: float ? dtype : t.dtype, constant: !float || !feeds.has(i) || fixed.has(i) };
    }
    return out;
  };
  const tryCheck = (dtype: 'float64' | 'float32') => gradcheck({
    dtype,
    inputs: checkInputs(dtype),
    build: (b, x) => b.op(node.opType, node.inputs.map((i) => (i ? x[i] : '')), node.attrs, { outputs: node.outputs.length })[0],
  });
  let detail = '';
  for (let attempt = 0; attempt <= floats.length; attempt++) {
    for (const dtype of ['float64', 'float32'] as const) {
      try {
        await tryCheck(dtype);
        return { ...outcome, gradient: 'pass', detail: fixed.size ? `no gradient for ${[...fixed].join(', ')}` : undefined };
      } catch (e) {
        detail = (e as Error).message.split('\n')[0].slice(0, 300);
        if (detail.startsWith('gradcheck')) return { ...outcome, gradient: 'fail', detail };
      }
    }
    const named = floats.find((i) => !fixed.has(i) && detail.includes(`'${i}'`));
    if (!named || fixed.size + 1 >= floats.length) break;
    fixed.add(named);
  }
  return { ...outcome, gradient: 'refused', detail };
}

export async function conformance(names: string[], dir = NODE_TESTS, onTest?: (o: TestOutcome) => void): Promise<{ counts: ConformanceCounts; outcomes: TestOutcome[] }> {
  const outcomes: TestOutcome[] = [];
  for (const name of names) {
    const o = await checkTest(name, dir);
    outcomes.push(o);
    onTest?.(o);
  }
  const tally = <K extends string>(key: (o: TestOutcome) => K, keys: K[]) => {
    const r = Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
    for (const o of outcomes) r[key(o)]++;
    return r;
  };
  const gradOps: ConformanceCounts['gradOps'] = {};
  for (const o of outcomes.filter((x) => x.gradient === 'pass' || x.gradient === 'fail')) {
    const e = (gradOps[o.ops[0]] ??= { pass: 0, of: 0 });
    e.of++;
    if (o.gradient === 'pass') e.pass++;
  }
  return {
    outcomes,
    counts: {
      tests: outcomes.length,
      withRules: outcomes.filter((o) => o.ops.every((op) => RULES[op])).length,
      roundTrip: tally((o) => o.roundTrip, ['pass', 'fail', 'ort-rejects-original', 'ort-differs-on-original', 'random', 'skip']),
      gradient: tally((o) => o.gradient, ['pass', 'fail', 'refused', 'too-large', 'none', 'random', 'skip']),
      gradOps,
    },
  };
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const args = process.argv.slice(2);
  const verbose = args.includes('--verbose');
  const names = args.filter((a) => !a.startsWith('--'));
  const { counts } = await conformance(names.length ? names : nodeTests(), NODE_TESTS, (o) => {
    if (verbose && (o.roundTrip !== 'pass' && o.roundTrip !== 'skip' || o.gradient === 'fail' || o.gradient === 'refused' || (o.roundTrip === 'skip' && o.detail))) console.log(`${o.name} [${o.ops}]: round trip ${o.roundTrip}, gradient ${o.gradient}: ${o.detail ?? ''}`);
  });
  console.log(JSON.stringify(counts, null, 1));
}
