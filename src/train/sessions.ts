import ort from 'onnxruntime-node';
import { gatherBatch, type Batch } from '../data/batches.js';
import type { NormalizedSplit } from '../data/normalize.js';
import type { Rng } from '../data/rng.js';
import { nodeCount } from '../graph/ir.js';
import * as names from '../graph/names.js';
import type { Tensor } from '../graph/tensor.js';
import { encodeModel } from '../onnx/model.js';
import type { GraphSet } from '../program/compile.js';
import { stateSpecs, type ModelSignature } from '../program/signature.js';
import { ResidentTraining, type DeviceChunk, type Transfers } from './device/resident.js';
import { checkDevice, createSession, type Provider, type SessionSettings } from './session.js';

type Feeds = Record<string, ort.Tensor>;
/** A graph as onnxruntime takes it, and its size (which picks the optimisation level). */
type EncodedGraph = { bytes: Uint8Array; nodes: number };

export const toOrt = (t: Tensor): ort.Tensor => new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, t.dims);
export const fromOrt = (t: ort.Tensor): Tensor => ({ dtype: t.type as Tensor['dtype'], dims: [...t.dims], data: (t.data as Float32Array).slice() });

const ortFloat = (v: number) => new ort.Tensor('float32', Float32Array.of(v), []);
const ortInt64 = (v: number) => new ort.Tensor('int64', BigInt64Array.of(BigInt(v)), []);

const identities = new Map<number, BigInt64Array>();
/** 0..n-1: the rows of a batch already gathered in order. */
function identityIndices(n: number): BigInt64Array {
  let v = identities.get(n);
  if (!v) identities.set(n, (v = BigInt64Array.from({ length: n }, (_, i) => BigInt(i))));
  return v;
}

export interface StepResult {
  /** Per-step mean losses and correct counts. */
  losses: Float32Array;
  corrects: number[];
  sizes: number[];
}

/** Which training graph runs the steps: train_loop (many steps per run) or train_step (one). */
export type GraphKind = 'loop' | 'step';

/** A chunk of Loop steps: `rows` steps of `batch` samples, indices into the data set tensors. */
export interface LoopChunk {
  data: { images: ort.Tensor; labels: ort.Tensor };
  indices: BigInt64Array;
  rows: number;
  batch: number;
  lr: number;
  rng: Rng;
}

/**
 * A run's onnxruntime sessions and its training state (parameters, buffers, optimizer state, step count)
 * as onnxruntime tensors: many steps per call (train_loop), one step (train_step), or evaluation
 * (validation). The state lives here, outside the sessions, so sessions can be made anew mid-run.
 *
 * On webgpu the steps run train_device instead (see device/resident.ts): the state stays on the device
 * between steps and calls, and `values`, its host copy, is brought up to date only by `syncHost()` (fit
 * calls it after each epoch; checkpoints and exports need it). Until then weights() and optimizerState()
 * refuse rather than return stale values.
 */
export class TrainSessions {
  /** Parameters and buffers by state_dict name, and optimizer state by state name. */
  readonly values = new Map<string, ort.Tensor>();
  step = 0;

  private trainLoopSession: ort.InferenceSession | null = null;
  private trainStepSession: ort.InferenceSession | null = null;
  private validationSession!: ort.InferenceSession;
  /** webgpu: the training state on the device, and the sessions that train it there. */
  private readonly resident: ResidentTraining | null;
  /** The device state has moved on since `values` was last read back. */
  private hostStale = false;

  private constructor(
    readonly sig: ModelSignature,
    private readonly models: { trainLoop: EncodedGraph | null; trainStep: EncodedGraph | null; validation: EncodedGraph },
    private settings: SessionSettings & { device: Provider },
    set: GraphSet,
  ) {
    this.resident = settings.device === 'webgpu' ? new ResidentTraining(() => set.graphFor('train_step', 'webgpu'), set.signature, settings) : null;
  }

  static async create(set: GraphSet, s: SessionSettings & { graphKind: GraphKind }): Promise<TrainSessions> {
    const { provider: device } = await checkDevice(s.device);
    const resident = device === 'webgpu';
    const graph = (name: 'train_loop' | 'train_step' | 'validation') => {
      const g = set.graphFor(name, device);
      return { bytes: encodeModel(g), nodes: nodeCount(g) };
    };
    const models = {
      trainLoop: s.graphKind === 'loop' && !resident ? graph('train_loop') : null,
      trainStep: resident ? null : graph('train_step'),
      validation: graph('validation'),
    };
    const r = new TrainSessions(set.signature, models, { ...s, device }, set);
    await r.open();
    return r;
  }

  /** The provider the steps run on. */
  get device(): Provider {
    return this.settings.device;
  }

  private async open(): Promise<void> {
    const session = (m: EncodedGraph) => createSession(m.bytes, { ...this.settings, nodes: m.nodes });
    const { trainLoop, trainStep, validation } = this.models;
    [this.trainLoopSession, this.trainStepSession, this.validationSession] = await Promise.all([
      trainLoop ? session(trainLoop) : Promise.resolve(null),
      trainStep ? session(trainStep) : Promise.resolve(null),
      session(validation),
    ]);
  }

  get spinning(): boolean {
    return this.settings.spinning ?? false;
  }

  /**
   * Turn spin-waiting on or off. A session's thread pool is fixed when it is made, so the sessions are
   * made anew; the training state lives here, outside them, and carries over unchanged.
   */
  async setSpinning(on: boolean): Promise<void> {
    if (on === this.spinning) return;
    await this.syncHost();
    await this.release();
    this.settings = { ...this.settings, spinning: on };
    await this.open();
  }

  load(weights: Map<string, Tensor>, optimizerState: Map<string, Tensor>, step: number): void {
    for (const p of this.sig.all) {
      const t = weights.get(p.name);
      if (!t) throw new Error(`checkpoint has no '${p.name}'`);
      if (t.dims.join() !== p.shape.join()) throw new Error(`checkpoint '${p.name}' has shape [${t.dims}], the model needs [${p.shape}]`);
      this.values.set(p.name, toOrt(t));
    }
    for (const { name, param } of stateSpecs(this.sig)) {
      const t = optimizerState.get(name);
      if (!t) throw new Error(`checkpoint has no optimizer state '${name}' (was it saved with another optimizer?)`);
      if (t.dims.join() !== param.shape.join()) throw new Error(`checkpoint optimizer state '${name}' has shape [${t.dims}], the model needs [${param.shape}]: the checkpoint is damaged or from another model`);
      this.values.set(name, toOrt(t));
    }
    this.resident?.reset();
    this.hostStale = false;
    this.step = step;
  }

  /** Bring the host copy of the training state up to date (webgpu: one read-back run, when stale). */
  async syncHost(): Promise<void> {
    if (!this.resident || !this.hostStale) return;
    for (const [k, t] of await this.resident.toHost()) this.values.set(k, t);
    this.hostStale = false;
  }

  /** webgpu: the host/device transfers made so far, by kind; null on other providers. */
  get transfers(): Readonly<Transfers> | null {
    return this.resident?.transfers ?? null;
  }

  private current(what: string): Map<string, ort.Tensor> {
    if (this.hostStale) throw new Error(`${what}: the training state is on the ${this.device} device and has moved on since it was last read back; await syncHost() first`);
    return this.values;
  }

  stateNames(): string[] {
    return stateSpecs(this.sig).map((st) => st.name);
  }

  weights(): Map<string, Tensor> {
    const values = this.current('weights()');
    return new Map(this.sig.all.map((p) => [p.name, fromOrt(values.get(p.name)!)]));
  }

  optimizerState(): Map<string, Tensor> {
    const values = this.current('optimizerState()');
    return new Map(this.stateNames().map((n) => [n, fromOrt(values.get(n)!)]));
  }

  /** Updated values come back as `<name>.new`: they become the next run's inputs. */
  private absorb(out: ort.InferenceSession.OnnxValueMapType, keys: string[]): void {
    for (const n of keys) this.values.set(n, out[names.updated(n)] as ort.Tensor);
  }

  private carried(): string[] {
    return [...this.sig.trainable.map((p) => p.name), ...this.stateNames(), ...this.sig.buffers.map((p) => p.name)];
  }

  /** Dropout keep-masks scaled by 1/(1-p), one per noise input, for `rows` steps of `batch` samples. */
  private noise(rng: Rng, rows: number | null, batch: number): Feeds {
    const feeds: Feeds = {};
    for (const n of this.sig.noise) {
      const per = n.shape.slice(1).reduce<number>((a, d) => a * (d as number), 1);
      const data = new Float32Array((rows ?? 1) * batch * per);
      const keep = 1 / (1 - n.p);
      for (let i = 0; i < data.length; i++) data[i] = rng.nextFloat() < n.p ? 0 : keep;
      const dims = [batch, ...(n.shape.slice(1) as number[])];
      feeds[n.name] = new ort.Tensor('float32', data, rows === null ? dims : [rows, ...dims]);
    }
    return feeds;
  }

  private stateFeeds(): Feeds {
    const feeds: Feeds = {};
    for (const [k, v] of this.values) feeds[k] = v;
    return feeds;
  }

  /** `rows` steps of `batch` samples each, indices into `images`/`labels` (the data set tensors). */
  async trainLoop({ data, indices, rows, batch, lr, rng }: LoopChunk): Promise<StepResult> {
    if (this.resident) return this.trainResident({ data, indices, rows, batch, lr, noise: this.noise(rng, rows, batch) });
    if (!this.trainLoopSession) throw new Error('these sessions were made for the train_step graph (graphKind "step")');
    const feeds: Feeds = {
      ...this.stateFeeds(),
      [names.DATA_IMAGES]: data.images,
      [names.DATA_LABELS]: data.labels,
      [names.BATCH_INDICES]: new ort.Tensor('int64', indices, [rows, batch]),
      [names.LEARNING_RATE]: ortFloat(lr),
      [names.STEP]: ortInt64(this.step),
      ...this.noise(rng, rows, batch),
    };
    const out = await this.trainLoopSession.run(feeds);
    this.absorb(out, this.carried());
    this.step += rows;
    const corrects = Array.from(out[names.STEP_CORRECT].data as BigInt64Array, Number);
    return { losses: out[names.STEP_LOSSES].data as Float32Array, corrects, sizes: corrects.map(() => batch) };
  }

  async trainStep(b: Batch, channelsHW: number[], lr: number, rng: Rng): Promise<StepResult> {
    if (this.resident) {
      const data = { images: new ort.Tensor('float32', b.images, [b.n, ...channelsHW]), labels: new ort.Tensor('int64', b.labels, [b.n]) };
      return this.trainResident({ data, indices: identityIndices(b.n), rows: 1, batch: b.n, lr, noise: this.noise(rng, 1, b.n), slot: 'batch' });
    }
    const feeds: Feeds = {
      ...this.stateFeeds(),
      [names.INPUT]: new ort.Tensor('float32', b.images, [b.n, ...channelsHW]),
      [names.LABELS]: new ort.Tensor('int64', b.labels, [b.n]),
      [names.LEARNING_RATE]: ortFloat(lr),
      [names.STEP]: ortInt64(this.step),
      ...this.noise(rng, null, b.n),
    };
    const out = await this.trainStepSession!.run(feeds);
    this.absorb(out, this.carried());
    this.step += 1;
    return { losses: Float32Array.of((out[names.LOSS].data as Float32Array)[0]), corrects: [Number((out[names.CORRECT].data as BigInt64Array)[0])], sizes: [b.n] };
  }

  /** Steps on the device; the host copy of the state goes stale until syncHost(). */
  private async trainResident(c: Omit<DeviceChunk, 'step'>): Promise<StepResult> {
    const r = await this.resident!.train(this.values, { ...c, step: this.step });
    this.step += c.rows;
    this.hostStale = true;
    return { losses: r.losses, corrects: r.corrects, sizes: r.corrects.map(() => c.batch) };
  }

  /** Mean loss and accuracy over `idx` of `split`, on the running statistics. */
  async evaluate(split: NormalizedSplit, idx: ArrayLike<number>, batchSize: number): Promise<{ loss: number; acc: number; n: number }> {
    let lossSum = 0;
    let correct = 0;
    const feeds: Feeds = {};
    for (const p of this.sig.all) feeds[p.name] = this.resident?.values.get(p.name) ?? this.values.get(p.name)!;
    const shape = [split.channels, split.height, split.width];
    const buf: Batch = { images: new Float32Array(batchSize * shape[0] * shape[1] * shape[2]), labels: new BigInt64Array(batchSize), n: batchSize };
    for (let i = 0; i < idx.length; i += batchSize) {
      const rows = Array.prototype.slice.call(idx, i, Math.min(i + batchSize, idx.length)) as number[];
      const b = gatherBatch(split, rows, buf);
      feeds[names.INPUT] = new ort.Tensor('float32', b.images, [b.n, ...shape]);
      feeds[names.LABELS] = new ort.Tensor('int64', b.labels, [b.n]);
      const out = await this.validationSession.run(feeds);
      lossSum += (out[names.LOSS].data as Float32Array)[0] * b.n;
      correct += Number((out[names.CORRECT].data as BigInt64Array)[0]);
    }
    return { loss: lossSum / idx.length, acc: correct / idx.length, n: idx.length };
  }

  async release(): Promise<void> {
    await Promise.all([this.trainLoopSession?.release(), this.trainStepSession?.release(), this.validationSession.release(), this.resident?.release()]);
  }
}
