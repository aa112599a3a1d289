/**
 * Where a provider runs each node of the training graphs, and the host/device copies a step makes: the
 * placement report (`npm run placement`). Each graph is opened in a child process with onnxruntime's
 * verbose log (its node placements) and the optimized graph saved (its Memcpy nodes).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Graph, ValueInfo } from '../../graph/ir.js';
import * as names from '../../graph/names.js';
import { decodeModel, encodeModel } from '../../onnx/model.js';
import { buildDeviceTraining, buildIdentityGraph, onDevice, onHost } from '../../program/device_graphs.js';
import type { GraphSet } from '../../program/compile.js';
import { stateSpecs } from '../../program/signature.js';
import type { Provider } from './probe.js';

export interface GraphPlacement {
  graph: string;
  /** How often it runs: 'step', 'chunk' (once per Loop run or upload) or 'batch' (validation). */
  runs: 'step' | 'chunk' | 'batch';
  nodes: number;
  /** Of those, the nodes placed on the GPU provider (all of them on cpu). */
  onProvider: number;
  /** Nodes the provider left to the CPU: 'OpType (name)'. */
  cpuNodes: string[];
  /** Memcpy nodes in the graph itself, and inside Loop bodies (those run once per step). */
  memcpy: { toHost: number; fromHost: number; loopToHost: number; loopFromHost: number };
  /** Inputs fed from host memory that a device node reads, and outputs left in host memory that a device node makes. */
  boundary: { in: string[]; out: string[] };
  optimizedPath: string;
}

const CHILD = fileURLToPath(new URL('./placement_child.js', import.meta.url));

function runChild(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CHILD, ...args], { encoding: 'utf8', maxBuffer: 256 << 20, timeout: 600_000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`placement of ${args[0]} failed: ${stderr.trim().split('\n').filter((l) => !/\[[IV]:onnxruntime/.test(l)).slice(-2).join(' ') || err.message}`));
      else resolve(stderr);
    });
  });
}

/**
 * Provider of each node, from onnxruntime's verbose 'Node(s) placed on [X]' lists, and the node count
 * (a graph wholly on one provider is logged as 'All nodes placed on [X]. Number of nodes: n', unlisted).
 */
function parsePlacement(log: string): { where: Map<string, { provider: string; op: string }>; count: number; onCpu: number } {
  const m = new Map<string, { provider: string; op: string }>();
  let provider = '';
  let count = 0;
  let onCpu = 0;
  for (const line of log.split('\n')) {
    const head = /(?:Node\(s\)|All nodes) placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(line);
    if (head) {
      provider = head[1];
      count += Number(head[2]);
      if (provider === 'CPUExecutionProvider') onCpu += Number(head[2]);
      continue;
    }
    const node = /VerifyEachNodeIsAssignedToAnEp\]\s{3,}(\S+) \((.*)\)\s*$/.exec(line);
    if (node && provider) m.set(node[2], { provider, op: node[1] });
  }
  return { where: m, count, onCpu };
}

function countMemcpy(g: Graph, inLoop = false, acc = { toHost: 0, fromHost: 0, loopToHost: 0, loopFromHost: 0 }) {
  for (const n of g.nodes) {
    if (n.opType === 'MemcpyToHost') acc[inLoop ? 'loopToHost' : 'toHost']++;
    if (n.opType === 'MemcpyFromHost') acc[inLoop ? 'loopFromHost' : 'fromHost']++;
    for (const a of Object.values(n.attrs)) if (a.kind === 'graph') countMemcpy(a.value, inLoop || n.opType === 'Loop', acc);
  }
  return acc;
}

/** Open `g` on `provider` as the trainer would (its inputs in `hostInputs` are fed from host memory). */
export async function placeGraph(g: Graph, provider: Provider, dir: string, o: { runs: GraphPlacement['runs']; hostInputs: Set<string>; locations: Record<string, 'cpu' | 'gpu-buffer'> }): Promise<GraphPlacement> {
  mkdirSync(dir, { recursive: true });
  const model = join(dir, `${g.name}.onnx`);
  const optimizedPath = join(dir, `${g.name}.${provider}.optimized.onnx`);
  writeFileSync(model, encodeModel(g));
  const log = await runChild([model, provider, optimizedPath, JSON.stringify(o.locations)]);
  const { where, count, onCpu: cpuCount } = parsePlacement(log);
  const opt = decodeModel(readFileSync(optimizedPath)).graph;
  const onCpu = (name: string) => provider === 'cpu' || where.get(name)?.provider === 'CPUExecutionProvider';
  const top = new Set(opt.nodes.map((n) => n.name));
  const cpuNodes = [...where].filter(([name, w]) => w.provider === 'CPUExecutionProvider' && (top.has(name) || name === '')).map(([name, w]) => `${w.op} (${name})`);
  const inner = [...where].filter(([name, w]) => w.provider === 'CPUExecutionProvider' && !top.has(name) && name !== '').map(([name, w]) => `${w.op} (${name}, in a subgraph)`);
  const boundaryIn = opt.inputs.map((i) => i.name).filter((i) => o.hostInputs.has(i) && opt.nodes.some((n) => n.inputs.includes(i) && !onCpu(n.name)));
  const boundaryOut = opt.outputs.map((v) => v.name).filter((v) => (o.locations[v] ?? 'cpu') === 'cpu' && opt.nodes.some((n) => n.outputs.includes(v) && !onCpu(n.name)));
  return {
    graph: g.name, runs: o.runs, nodes: count, onProvider: provider === 'cpu' ? count : count - cpuCount, cpuNodes: [...cpuNodes, ...inner], memcpy: countMemcpy(opt),
    boundary: { in: boundaryIn, out: boundaryOut }, optimizedPath,
  };
}

/** The step graph of the resident path on webgpu, opened as ResidentTraining opens it. */
async function placeDeviceStep(set: GraphSet, dir: string, batch: number): Promise<GraphPlacement> {
  const d = buildDeviceTraining(set.graphFor('train_step', 'webgpu'), set.signature, batch);
  const locations: Record<string, 'cpu' | 'gpu-buffer'> = {};
  for (const o of d.step.outputs) locations[o.name] = o.dtype === 'int64' ? 'cpu' : 'gpu-buffer';
  const hostInputs = new Set(d.step.inputs.filter((i) => i.dtype === 'int64').map((i) => i.name));
  return placeGraph(d.step, 'webgpu', dir, { runs: 'step', hostInputs, locations });
}

/**
 * Where a training run's graphs run on a GPU provider: the graph that trains (webgpu: train_device at
 * `batch`; cuda: train_loop or train_step as `graphKind` says) and validation; the optimized graphs go
 * to a temporary folder, removed afterwards.
 */
export async function runPlacement(set: GraphSet, provider: Provider, o: { batch: number; graphKind: 'loop' | 'step' }): Promise<GraphPlacement[]> {
  const dir = mkdtempSync(join(tmpdir(), 'onnxtrain-placement-'));
  try {
    const all = (g: Graph) => new Set(g.inputs.map((i) => i.name));
    const train = provider === 'webgpu'
      ? placeDeviceStep(set, dir, o.batch)
      : (() => {
          const g = set.graphFor(o.graphKind === 'loop' ? 'train_loop' : 'train_step', provider);
          return placeGraph(g, provider, dir, { runs: o.graphKind === 'loop' ? 'chunk' : 'step', hostInputs: all(g), locations: {} });
        })();
    const validation = set.graphFor('validation', provider);
    const hostInputs = provider === 'webgpu' ? new Set([names.INPUT, names.LABELS]) : all(validation);
    return await Promise.all([train, placeGraph(validation, provider, dir, { runs: 'batch', hostInputs, locations: {} })]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One line: per graph, the nodes on the provider, the op types left to the CPU and (for the graph that
 * trains) the host/device copies per optimizer step, e.g.
 * `train_device 83/83 nodes on webgpu, 0 copies/step; validation 23/25 (CPU: Equal, ReduceSum)`.
 */
export function placementLine(report: GraphPlacement[], provider: Provider): string {
  return report.map((p) => {
    const ops = new Map<string, number>();
    for (const n of p.cpuNodes) {
      const op = n.split(' ')[0];
      if (!/^Memcpy/.test(op)) ops.set(op, (ops.get(op) ?? 0) + 1);
    }
    const cpu = [...ops].map(([op, k]) => (k > 1 ? `${op} x${k}` : op)).join(', ');
    const c = copiesPerStep(p);
    const copies = p.runs === 'batch' ? '' : `, ${c.toHost + c.fromHost} copies/step`;
    return `${p.graph} ${p.onProvider}/${p.nodes} nodes on ${provider}${copies}${cpu ? ` (CPU: ${cpu})` : ''}`;
  }).join('; ');
}

/**
 * The graphs a TrainSessions on `provider` runs: on webgpu the resident path (train_device per step; per
 * chunk the upload, the read-back of the steps' scalars (one step's pair shown) and of the state) and, for comparison, train_loop as the CPU runs it; on cuda
 * and cpu, train_loop. Plus validation.
 */
export async function placementReport(set: GraphSet, provider: Provider, dir: string, batch = 64): Promise<GraphPlacement[]> {
  const sig = set.signature;
  const all = (g: Graph) => new Set(g.inputs.map((i) => i.name));
  const out: GraphPlacement[] = [];
  if (provider === 'webgpu') {
    const d = buildDeviceTraining(set.graphFor('train_step', provider), sig, batch);
    out.push(await placeDeviceStep(set, dir, batch));
    const state: ValueInfo[] = [...sig.all, ...stateSpecs(sig).map((s) => ({ ...s.param, name: s.name }))].filter((v) => v.dtype !== 'int64').map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape }));
    const upload = buildIdentityGraph('upload_chunk', d.chunkInputs, onDevice);
    out.push(await placeGraph(upload, provider, dir, { runs: 'chunk', hostInputs: all(upload), locations: Object.fromEntries(upload.outputs.map((v) => [v.name, 'gpu-buffer'])) }));
    const scalars = buildIdentityGraph('read_scalars', [names.LOSS, names.CORRECT].map((n) => ({ name: n, dtype: 'float32' as const, shape: [] })), onHost);
    out.push(await placeGraph(scalars, provider, dir, { runs: 'chunk', hostInputs: new Set(), locations: {} }));
    const readBack = buildIdentityGraph('read_back', state, onHost);
    out.push(await placeGraph(readBack, provider, dir, { runs: 'chunk', hostInputs: new Set(), locations: {} }));
  }
  const loop = set.graphFor('train_loop', provider);
  out.push(await placeGraph(loop, provider, dir, { runs: 'chunk', hostInputs: all(loop), locations: {} }));
  const validation = set.graphFor('validation', provider);
  const deviceParams = provider === 'webgpu' ? new Set([names.INPUT, names.LABELS]) : all(validation);
  out.push(await placeGraph(validation, provider, dir, { runs: 'batch', hostInputs: deviceParams, locations: {} }));
  return out;
}

/** Host/device copies one optimizer step makes, from a report: the per-step graph's own, or the Loop body's. */
export function copiesPerStep(p: GraphPlacement): { toHost: number; fromHost: number } {
  if (p.runs === 'step') return { toHost: p.memcpy.toHost + p.boundary.out.length, fromHost: p.memcpy.fromHost + p.boundary.in.length };
  return { toHost: p.memcpy.loopToHost, fromHost: p.memcpy.loopFromHost };
}

/** The placement line of a run on a GPU provider (see placementLine); a failure to find out is said, not thrown. */
export async function describePlacement(set: GraphSet, provider: Provider, o: { batch: number; graphKind: 'loop' | 'step' }): Promise<string> {
  try {
    return placementLine(await runPlacement(set, provider, o), provider);
  } catch (e) {
    return `placement unknown (${(e as Error).message})`;
  }
}
