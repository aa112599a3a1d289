/**
 * A Program: a model compiled into its graph set, with sessions open on a device and the training state
 * (weights, optimizer state, step) held between runs. `compile` makes one; `fit` trains it.
 */
import ort from 'onnxruntime-node';
import { loadCheckpoint, saveCheckpoint } from '../artifacts/checkpoint.js';
import type { NormalizedSplit } from '../data/normalize.js';
import type { Normalization } from '../data/normalize.js';
import * as names from '../graph/names.js';
import type { Tensor } from '../graph/tensor.js';
import { initialWeights } from '../models/init.js';
import { defineModel, type ModelDef } from '../models/registry.js';
import type { Module } from '../nn/module.js';
import { encodeModel } from '../onnx/model.js';
import { defaultOptimizerSettings, type OptimizerKind, type OptimizerSettings } from '../optim/index.js';
import { compileGraphSet, type GraphSet } from '../program/compile.js';
import { TRAINING_DEFAULTS } from '../program/defaults.js';
import { zeroState, type ModelSignature } from '../program/signature.js';
import { writeFileAtomic } from '../util/fsx.js';
import { asView, type Samples } from '../data/view.js';
import { checkDevice, createSession, type Device, type Provider } from './session.js';
import { TrainSessions, toOrt, type GraphKind } from './sessions.js';

export interface CompileOptions {
  /** [channels, height, width]; required when the model is a layer tree rather than a ModelDef. */
  input?: [number, number, number];
  /** Only 'cross-entropy' (mean over the batch, as torch.nn.CrossEntropyLoss). Default 'cross-entropy'. */
  loss?: 'cross-entropy';
  /** Default Adam with lr 1e-3 and PyTorch's other defaults; missing fields take torch.optim's defaults. */
  optimizer?: Partial<OptimizerSettings> & { kind?: OptimizerKind };
  /** Execution provider, or 'auto' (cuda, webgpu on a GPU, else cpu). Default 'cpu'. */
  device?: Device;
  /** Intra-op threads. Default: onnxruntime's choice (one per core). */
  threads?: number;
  /** Idle onnxruntime threads spin-wait. Default false. */
  spinning?: boolean;
  /** Parameters that get no gradient and no update (state_dict names). Default none. */
  frozen?: string[];
  /** 'loop': many steps per onnxruntime run (train_loop); 'step': one (train_step). Default 'loop'. */
  graphKind?: GraphKind;
  /** Seed of the initial weights (PyTorch's default initialisation). Default 0. */
  seed?: number;
  /** Initial weights by state_dict name, instead of fresh ones. Default: fresh. */
  weights?: Map<string, Tensor>;
  /** For a layer tree: output names, normalisation and a name (see defineModel). */
  classNames?: string[];
  normalization?: Normalization;
  name?: string;
}

/** Compile a model (a ModelDef such as a seed model, or `nn` layers with `input`) and open its sessions. */
export async function compile(model: Module | ModelDef, o: CompileOptions = {}): Promise<Program> {
  if (o.loss && o.loss !== 'cross-entropy') throw new Error(`loss '${o.loss}' is not supported: use 'cross-entropy'`);
  const def = 'root' in model ? model : defineModel(model, { input: o.input!, classNames: o.classNames, normalization: o.normalization, name: o.name });
  const { kind = 'adam', ...overrides } = o.optimizer ?? {};
  const optimizer = defaultOptimizerSettings(kind, overrides);
  const { provider: device } = await checkDevice(o.device ?? 'cpu');
  const graphs = compileGraphSet({ def, optimizer, frozen: o.frozen });
  const sessions = await TrainSessions.create(graphs, { device, threads: o.threads, spinning: o.spinning ?? false, graphKind: o.graphKind ?? 'loop' });
  const sig = graphs.signature;
  sessions.load(o.weights ?? initialWeights(sig.all, o.seed ?? TRAINING_DEFAULTS.seed), zeroState(sig), 0);
  return new Program(graphs, sessions, { device, threads: o.threads, graphKind: o.graphKind ?? 'loop' });
}

export class Program {
  private evalSession: ort.InferenceSession | null = null;

  constructor(
    readonly graphs: GraphSet,
    readonly sessions: TrainSessions,
    readonly settings: { device: Provider; threads?: number; graphKind: GraphKind },
  ) {}

  get def(): ModelDef {
    return this.graphs.settings.def;
  }

  get signature(): ModelSignature {
    return this.graphs.signature;
  }

  get optimizer(): OptimizerSettings {
    return this.graphs.settings.optimizer;
  }

  /** Optimizer steps taken. */
  get step(): number {
    return this.sessions.step;
  }

  weights(): Map<string, Tensor> {
    return this.sessions.weights();
  }

  optimizerState(): Map<string, Tensor> {
    return this.sessions.optimizerState();
  }

  /** Replace the training state (weights, optimizer state, step), e.g. from a checkpoint. */
  load(weights: Map<string, Tensor>, optimizerState: Map<string, Tensor> = zeroState(this.signature), step = 0): void {
    this.sessions.load(weights, optimizerState, step);
  }

  /** Mean loss and accuracy on the running statistics (no dropout, BatchNorm in eval mode). */
  evaluate(samples: Samples, batchSize: number = TRAINING_DEFAULTS.evalBatchSize) {
    const v = asView(samples);
    return this.sessions.evaluate(v.split, v.indices, batchSize);
  }

  /** Class probabilities [n, K] of normalised images [n, C, H, W]. */
  async predict(images: NormalizedSplit | Float32Array): Promise<Float32Array> {
    const [C, H, W] = this.def.dataset.inputShape;
    const data = images instanceof Float32Array ? images : images.images;
    const n = data.length / (C * H * W);
    if (!Number.isInteger(n)) throw new Error(`predict: ${data.length} values are not a whole number of ${C}x${H}x${W} images`);
    await this.sessions.syncHost();
    this.evalSession ??= await createSession(encodeModel(this.graphs.graph('eval')), { device: this.settings.device, threads: this.settings.threads });
    const feeds: Record<string, ort.Tensor> = { [names.INPUT]: new ort.Tensor('float32', data, [n, C, H, W]) };
    for (const [k, t] of this.weights()) feeds[k] = toOrt(t);
    const out = await this.evalSession.run(feeds, [names.PROBABILITIES]);
    return out[names.PROBABILITIES].data as Float32Array;
  }

  /** The deployable eval graph (weights as initializers): the bytes the web page loads. */
  async exportEval(path: string, metadata: Record<string, string> = {}): Promise<void> {
    await this.sessions.syncHost();
    await writeFileAtomic(path, encodeModel(this.graphs.evalWith(this.weights()), { metadata: { model: this.def.name, ...metadata } }));
  }

  /** Weights, optimizer state and `meta` as a safetensors checkpoint (PyTorch state_dict names). */
  async saveCheckpoint(path: string, meta: Record<string, unknown> = { step: this.step }): Promise<void> {
    await this.sessions.syncHost();
    await saveCheckpoint(path, { weights: this.weights(), optimizerState: this.optimizerState(), meta });
  }

  /** Load a checkpoint written by saveCheckpoint (or a run's last/best.safetensors); returns its metadata. */
  async loadCheckpoint<M extends { step?: number }>(path: string): Promise<M> {
    const ck = await loadCheckpoint<M>(path);
    this.load(ck.weights, ck.optimizerState, ck.meta.step ?? 0);
    return ck.meta;
  }

  async setSpinning(on: boolean): Promise<void> {
    await this.sessions.setSpinning(on);
  }

  async release(): Promise<void> {
    await Promise.all([this.sessions.release(), this.evalSession?.release()]);
    this.evalSession = null;
  }
}
