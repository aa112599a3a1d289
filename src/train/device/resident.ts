/**
 * Training with the state resident on a GPU provider (WebGPU): parameters, optimizer state and the data
 * set live in device buffers between runs; each step runs train_device (src/program/device_graphs.ts) and
 * copies nothing between host and device. Per chunk of steps, one upload run brings the chunk's batch
 * indices, per-step optimizer scalars and dropout masks; one run reads the steps' losses and correct
 * counts back; the state is read back only when the host asks for it (checkpoints, exported weights). `getData()` is never called on a device tensor: onnxruntime-node
 * aborts the process on it; device tensors are read back by a run whose outputs are on the CPU.
 */
import ort from 'onnxruntime-node';
import type { Graph, ValueInfo } from '../../graph/ir.js';
import * as names from '../../graph/names.js';
import { encodeModel } from '../../onnx/model.js';
import { buildDeviceTraining, buildIdentityGraph, ITERATION, ONEHOT_LABELS, onDevice, onHost, perStep, type DeviceTraining } from '../../program/device_graphs.js';
import type { ModelSignature } from '../../program/signature.js';
import { stateSpecs } from '../../program/signature.js';
import { createSession, type SessionSettings } from '../session.js';

type Feeds = Record<string, ort.Tensor>;
type Location = 'cpu' | 'gpu-buffer';

/** int64 values (BatchNorm's num_batches_tracked) stay on the host: the provider has no int64 arithmetic. */
const locationOf = (v: ValueInfo): Location => (v.dtype === 'int64' ? 'cpu' : 'gpu-buffer');

export const isOnDevice = (t: ort.Tensor): boolean => t.location !== 'cpu' && t.location !== 'none';

function release(t: ort.Tensor | undefined): void {
  if (t && isOnDevice(t)) t.dispose();
}

/** The chunk a run of steps trains: `rows` steps of `batch`, rows of `indices` into `data`. */
export interface DeviceChunk {
  data: { images: ort.Tensor; labels: ort.Tensor };
  indices: BigInt64Array;
  rows: number;
  batch: number;
  lr: number;
  /** The optimizer step count before the chunk's first step. */
  step: number;
  /** Dropout masks per noise input, [rows, batch, ...]. */
  noise: Feeds;
  /** 'batch': `data` is this step's batch alone, uploaded beside the data set. Default 'set'. */
  slot?: DataSlot;
}

interface StepSessions {
  graphs: DeviceTraining;
  step: ort.InferenceSession;
  scalars: ort.InferenceSession;
  upload: ort.InferenceSession;
}

/** Runs that move data between host and device, counted (the tests read them). */
export interface Transfers {
  /** The training state uploaded (once after each load). */
  stateUploads: number;
  /** The training state read back to the host (only when the host asks: checkpoints, exports). */
  stateReadBacks: number;
  /** Image sets uploaded: the data set once, or a step's batch each step (`--runner step`). */
  dataUploads: number;
  /** Per-chunk inputs uploaded (batch indices, optimizer scalars, dropout masks). */
  chunkUploads: number;
  /** Runs reading the chunk's losses and correct counts back. */
  scalarReads: number;
}

/** Where an image set lives on the device: the whole data set (Loop chunks index it) or one step's batch. */
type DataSlot = 'set' | 'batch';

export class ResidentTraining {
  /** Device copies of the training state, by name; int64 values stay host tensors. */
  readonly values = new Map<string, ort.Tensor>();
  readonly transfers: Transfers = { stateUploads: 0, stateReadBacks: 0, dataUploads: 0, chunkUploads: 0, scalarReads: 0 };
  private readonly bySize = new Map<number, Promise<StepSessions>>();
  /** A step's batch has its own slot, so that the epoch's last partial batch does not evict the data set. */
  private readonly data = new Map<DataSlot, { source: ort.Tensor; images: ort.Tensor; onehot: ort.Tensor }>();
  private dataUpload: ort.InferenceSession | null = null;
  private stateUpload: ort.InferenceSession | null = null;
  private readBack: ort.InferenceSession | null = null;
  private readonly scalarReads = new Map<number, Promise<ort.InferenceSession>>();
  private readonly state: ValueInfo[];

  constructor(
    private readonly trainStep: () => Graph,
    private readonly sig: ModelSignature,
    private readonly settings: SessionSettings,
  ) {
    this.state = [...sig.all.map((p) => ({ name: p.name, dtype: p.dtype, shape: p.shape })), ...stateSpecs(sig).map((s) => ({ name: s.name, dtype: s.param.dtype, shape: s.param.shape }))];
  }

  private open(graphBytes: Uint8Array, outputs?: Record<string, Location>): Promise<ort.InferenceSession> {
    return createSession(graphBytes, { ...this.settings, outputLocations: outputs });
  }

  private sessionsFor(batch: number): Promise<StepSessions> {
    let p = this.bySize.get(batch);
    if (!p) {
      p = (async () => {
        const graphs = buildDeviceTraining(this.trainStep(), this.sig, batch);
        const outs: Record<string, Location> = {};
        for (const o of graphs.step.outputs) outs[o.name] = locationOf(o);
        const uploadOuts = Object.fromEntries(graphs.chunkInputs.map((v) => [onDevice(v.name), 'gpu-buffer' as Location]));
        const [step, scalars, upload] = await Promise.all([
          this.open(encodeModel(graphs.step), outs),
          createSession(encodeModel(graphs.scalars), { ...this.settings, device: 'cpu' }),
          this.open(encodeModel(buildIdentityGraph('upload_chunk', graphs.chunkInputs, onDevice)), uploadOuts),
        ]);
        return { graphs, step, scalars, upload };
      })();
      this.bySize.set(batch, p);
    }
    return p;
  }

  /** Drop the device copies (after a load: the host values are the truth again). */
  reset(): void {
    for (const t of this.values.values()) release(t);
    this.values.clear();
  }

  /** Upload the host state once; later runs feed the device copies. */
  private async ensureResident(host: Map<string, ort.Tensor>): Promise<void> {
    if (this.values.size) return;
    const device = this.state.filter((v) => locationOf(v) === 'gpu-buffer');
    this.stateUpload ??= await this.open(encodeModel(buildIdentityGraph('upload_state', device, onDevice)), Object.fromEntries(device.map((v) => [onDevice(v.name), 'gpu-buffer' as Location])));
    const out = await this.stateUpload.run(Object.fromEntries(device.map((v) => [v.name, host.get(v.name)!])));
    this.transfers.stateUploads++;
    for (const v of this.state) this.values.set(v.name, locationOf(v) === 'gpu-buffer' ? (out[onDevice(v.name)] as ort.Tensor) : host.get(v.name)!);
  }

  /** An image set on the device (images, one-hot labels), uploaded once per source tensor. */
  private async ensureData(slot: DataSlot, images: ort.Tensor, labels: ort.Tensor, classes: number): Promise<{ images: ort.Tensor; onehot: ort.Tensor }> {
    const held = this.data.get(slot);
    if (held?.source === images) return held;
    if (held) [held.images, held.onehot].forEach(release);
    const M = images.dims[0];
    const onehot = new Float32Array(M * classes);
    const l = labels.data as BigInt64Array;
    for (let i = 0; i < M; i++) onehot[i * classes + Number(l[i])] = 1;
    const specs: ValueInfo[] = [{ name: names.DATA_IMAGES, dtype: 'float32', shape: ['M', ...images.dims.slice(1)] }, { name: ONEHOT_LABELS, dtype: 'float32', shape: ['M', classes] }];
    this.dataUpload ??= await this.open(encodeModel(buildIdentityGraph('upload_data', specs, onDevice)), Object.fromEntries(specs.map((v) => [onDevice(v.name), 'gpu-buffer' as Location])));
    const out = await this.dataUpload.run({ [names.DATA_IMAGES]: images, [ONEHOT_LABELS]: new ort.Tensor('float32', onehot, [M, classes]) });
    this.transfers.dataUploads++;
    const d = { source: images, images: out[onDevice(names.DATA_IMAGES)] as ort.Tensor, onehot: out[onDevice(ONEHOT_LABELS)] as ort.Tensor };
    this.data.set(slot, d);
    return d;
  }

  /** Train a chunk; the device state moves on, and the step losses and correct counts come back. */
  async train(host: Map<string, ort.Tensor>, c: DeviceChunk): Promise<{ losses: Float32Array; corrects: number[] }> {
    const s = await this.sessionsFor(c.batch);
    await this.ensureResident(host);
    const classes = s.graphs.step.info(ONEHOT_LABELS).shape![1] as number;
    const data = await this.ensureData(c.slot ?? 'set', c.data.images, c.data.labels, classes);

    const steps = BigInt64Array.from({ length: c.rows }, (_, i) => BigInt(c.step + i));
    const tables = await s.scalars.run({ [names.LEARNING_RATE]: new ort.Tensor('float32', Float32Array.of(c.lr), []), [names.STEP]: new ort.Tensor('int64', steps, [c.rows]) });
    const chunk: Feeds = {
      [names.BATCH_INDICES]: new ort.Tensor('int32', Int32Array.from(c.indices, Number), [c.rows, c.batch]),
      [ITERATION]: new ort.Tensor('int32', Int32Array.of(0), []),
      ...Object.fromEntries(s.graphs.tables.map((t) => [t, tables[t] as ort.Tensor])),
      ...Object.fromEntries(Object.entries(c.noise).map(([k, v]) => [perStep(k), v])),
    };
    const up = await s.upload.run(chunk);
    this.transfers.chunkUploads++;
    const feeds: Feeds = { [names.DATA_IMAGES]: data.images, [ONEHOT_LABELS]: data.onehot };
    for (const v of s.graphs.chunkInputs) feeds[v.name] = up[onDevice(v.name)] as ort.Tensor;
    const carried = s.graphs.step.outputs.slice(3).map((o) => o.name);

    // Each step's loss and correct count stay on the device until the chunk ends: the host queues the
    // steps without waiting for any of them, and one run reads all 2 S scalars back.
    const results: ort.Tensor[] = [];
    for (let k = 0; k < c.rows; k++) {
      for (const v of this.state) feeds[v.name] = this.values.get(v.name)!;
      const out = await s.step.run(feeds);
      results.push(out[names.LOSS] as ort.Tensor, out[names.CORRECT] as ort.Tensor);
      if (k > 0) release(feeds[ITERATION]);
      feeds[ITERATION] = out[names.updated(ITERATION)] as ort.Tensor;
      for (const n of carried) {
        const name = n.slice(0, -'.new'.length);
        release(this.values.get(name));
        this.values.set(name, out[n] as ort.Tensor);
      }
    }
    release(feeds[ITERATION]);
    for (const v of s.graphs.chunkInputs) release(feeds[v.name]);
    const scalars = await this.readScalars(results);
    results.forEach(release);
    return {
      losses: Float32Array.from({ length: c.rows }, (_, k) => scalars[2 * k]),
      corrects: Array.from({ length: c.rows }, (_, k) => Math.round(scalars[2 * k + 1])),
    };
  }

  /** Float scalars on the device, read back by one run (a session per count, made once). */
  private async readScalars(ts: ort.Tensor[]): Promise<number[]> {
    let session = this.scalarReads.get(ts.length);
    if (!session) {
      const specs: ValueInfo[] = ts.map((_, k) => ({ name: `scalar.${k}`, dtype: 'float32', shape: [] }));
      session = this.open(encodeModel(buildIdentityGraph('read_scalars', specs, onHost)));
      this.scalarReads.set(ts.length, session);
    }
    const out = await (await session).run(Object.fromEntries(ts.map((t, k) => [`scalar.${k}`, t])));
    this.transfers.scalarReads++;
    return ts.map((_, k) => (out[onHost(`scalar.${k}`)].data as Float32Array)[0]);
  }

  /** The device state as host tensors: one run whose outputs are on the CPU. */
  async toHost(): Promise<Map<string, ort.Tensor>> {
    const device = this.state.filter((v) => locationOf(v) === 'gpu-buffer');
    this.readBack ??= await this.open(encodeModel(buildIdentityGraph('read_back', device, onHost)));
    const out = await this.readBack.run(Object.fromEntries(device.map((v) => [v.name, this.values.get(v.name)!])));
    this.transfers.stateReadBacks++;
    return new Map(this.state.map((v) => [v.name, locationOf(v) === 'gpu-buffer' ? (out[onHost(v.name)] as ort.Tensor) : this.values.get(v.name)!]));
  }

  async release(): Promise<void> {
    this.reset();
    for (const d of this.data.values()) [d.images, d.onehot].forEach(release);
    this.data.clear();
    const all = await Promise.all(this.bySize.values());
    const reads = await Promise.all(this.scalarReads.values());
    await Promise.all([...all.flatMap((s) => [s.step.release(), s.scalars.release(), s.upload.release()]), ...reads.map((r) => r.release()), this.dataUpload?.release(), this.stateUpload?.release(), this.readBack?.release()]);
    this.bySize.clear();
    this.scalarReads.clear();
    this.dataUpload = this.stateUpload = this.readBack = null;
  }
}
