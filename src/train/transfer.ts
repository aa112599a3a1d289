/** Transfer learning: starting weights from a run, a checkpoint or an ONNX model; freezing by name prefix; a new head. */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { loadCheckpointWeights } from '../artifacts/checkpoint.js';
import type { Tensor } from '../graph/tensor.js';
import type { ParamSpec } from '../nn/context.js';
import { decodeModel } from '../onnx/model.js';
import { kindOf, readRegularFile } from '../util/fsx.js';
import { runFile } from './run_dir.js';

/** Starting weights by state_dict name; `model` is the model they come from, when the file says. */
export interface InitWeights extends Map<string, Tensor> {
  model?: string;
}

const KINDS = 'pass a run folder, a .safetensors checkpoint or a model.onnx';

/**
 * The weights in `path`: a run folder (its best.safetensors, else last.safetensors), a .safetensors
 * checkpoint (optimizer state dropped; onnxtrain metadata optional, so PyTorch's files work), or an ONNX
 * model whose initializers are the weights (the eval graph a run writes as model.onnx, or any model
 * named with the same state_dict names). Every failure is one line starting `--init <path>`.
 */
export async function loadInitWeights(path: string): Promise<InitWeights> {
  const s = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new Error(err.code === 'ENOENT' ? `--init ${path} does not exist: ${KINDS}` : `--init ${path} cannot be read (${err.code}): ${KINDS}`);
  });
  if (s.isDirectory()) return fromRunFolder(path);
  if (!s.isFile()) throw new Error(`--init ${path} is ${kindOf(s)}, not a file: ${KINDS}`);
  if (path.endsWith('.safetensors')) return fromSafetensors(path);
  if (path.endsWith('.onnx')) return fromOnnx(path);
  throw new Error(`--init ${path}: expected a run folder, a .safetensors file or a .onnx file`);
}

async function fromRunFolder(dir: string): Promise<InitWeights> {
  const file = existsSync(runFile(dir, 'best')) ? runFile(dir, 'best') : runFile(dir, 'last');
  if (!existsSync(file)) throw new Error(`--init ${dir} holds no best.safetensors or last.safetensors: pass a run folder that has trained at least one epoch`);
  return fromSafetensors(file);
}

async function fromSafetensors(path: string): Promise<InitWeights> {
  try {
    const { weights, model } = await loadCheckpointWeights(path);
    return Object.assign(weights, { model });
  } catch (err) {
    throw new Error(`--init ${(err as Error).message}`, { cause: err });
  }
}

async function fromOnnx(path: string): Promise<InitWeights> {
  const bytes = await readRegularFile(path, KINDS, `--init ${path}`);
  let decoded: ReturnType<typeof decodeModel>;
  try {
    decoded = decodeModel(bytes);
  } catch (err) {
    throw new Error(`--init ${path} is not a readable ONNX model (${(err as Error).message}; truncated or damaged?): export it again, or pass the run folder or a .safetensors checkpoint`, { cause: err });
  }
  const { graph, metadata } = decoded;
  if (graph.initializers.size === 0) throw new Error(`--init ${path} has no initializers: export the model with its weights (an eval graph such as a run's model.onnx)`);
  return Object.assign(new Map(graph.initializers), { model: metadata.model });
}

/** The module prefix of a parameter name: 'classifier.3.weight' -> 'classifier.3'. */
const moduleOf = (name: string): string => name.slice(0, name.lastIndexOf('.'));

/** Names of the classifier head: the parameters of the last layer that has parameters. */
export function headNames(all: ParamSpec[]): string[] {
  const params = all.filter((p) => !p.buffer);
  const last = moduleOf(params[params.length - 1].name);
  return params.filter((p) => moduleOf(p.name) === last).map((p) => p.name);
}

/**
 * Parameter names selected by `prefixes`: a prefix matches a name equal to it or starting with it and a
 * dot ('features' freezes features.0.weight, features.3.bias, ...). Each prefix must match something, and
 * something must be left to train.
 */
export function expandFrozen(all: ParamSpec[], prefixes: string[], model: string): string[] {
  const params = all.filter((p) => !p.buffer).map((p) => p.name);
  const out = new Set<string>();
  for (const prefix of prefixes) {
    const hits = params.filter((n) => n === prefix || n.startsWith(prefix + '.'));
    if (hits.length === 0) throw new Error(`--freeze ${prefix} matches no parameter of ${model}: use a state_dict name or prefix such as ${[...new Set(params.map((n) => n.split('.')[0]))].join(' or ')}`);
    hits.forEach((n) => out.add(n));
  }
  const frozen = params.filter((n) => out.has(n));
  if (frozen.length && frozen.length === params.length) {
    throw new Error(`--freeze ${prefixes.join(' ')} freezes every parameter of ${model}: nothing would train; freeze fewer (e.g. --freeze ${params[0].split('.')[0]})`);
  }
  return frozen;
}

export interface InitReport {
  /** Parameters and buffers taken from the initial weights. */
  loaded: string[];
  /** Head parameters whose shape differs (a new number of classes): freshly initialised. */
  replaced: string[];
}

/**
 * Overwrite `weights` (the fresh initialisation) with `init` where names match. A shape mismatch is an
 * error except for the head, which is replaced; a model with no name in common is an error.
 */
export function applyInitWeights(weights: Map<string, Tensor>, init: InitWeights, all: ParamSpec[], model: string): InitReport {
  const head = new Set(headNames(all));
  const report: InitReport = { loaded: [], replaced: [] };
  for (const p of all) {
    const t = init.get(p.name);
    if (!t) continue;
    if (t.dims.join() !== p.shape.join()) {
      if (head.has(p.name)) {
        report.replaced.push(p.name);
        continue;
      }
      throw new Error(`initial weight '${p.name}' has shape [${t.dims}]${fromModel(init)}, ${model} needs [${p.shape}]: start from a run of the same model and options`);
    }
    if (t.dtype !== p.dtype) throw new Error(`initial weight '${p.name}' is ${t.dtype}, ${model} needs ${p.dtype}`);
    weights.set(p.name, t);
    report.loaded.push(p.name);
  }
  if (report.loaded.length === 0) {
    throw new Error(`the initial weights${fromModel(init)} share no parameter name with ${model} (it has ${all.slice(0, 3).map((p) => p.name).join(', ')}, ...): start from a run of the same model`);
  }
  return report;
}

const fromModel = (init: InitWeights): string => (init.model ? ` (from a ${init.model} model)` : '');
