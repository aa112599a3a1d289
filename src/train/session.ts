import ort from 'onnxruntime-node';
import { pickProvider, requireProvider, type Provider } from './device/probe.js';

export type { Provider } from './device/probe.js';
/** What a user asks for: a provider, or 'auto' (the best one that starts: cuda, webgpu on a GPU, else cpu). */
export type Device = Provider | 'auto';
export const DEVICES: Device[] = ['cpu', 'cuda', 'webgpu', 'auto'];

export interface SessionSettings {
  /** Execution provider ('auto' is resolved by checkDevice). Default 'cpu'. */
  device: Device;
  /** Intra-op threads; default: onnxruntime's choice (one per core). */
  threads?: number;
  /**
   * Let idle worker threads spin. Default false: on a CPU that other processes share, spinning threads
   * steal the cores the work needs (see BENCHMARKS.md).
   */
  spinning?: boolean;
  /** Where each output is left: 'gpu-buffer' keeps it on the device for the next run. Default: all on the CPU. */
  outputLocations?: Record<string, 'cpu' | 'gpu-buffer'>;
  /** The graph's node count, Loop bodies included: it picks onnxruntime's optimisation level (optimizationLevel). */
  nodes?: number;
  /** Save the graph as the provider optimized and partitioned it (the placement report reads it). */
  optimizedModelPath?: string;
}

/**
 * Check up front, before any data loads, that the device's execution provider exists and starts (probed in a
 * child process, so the driver's own messages never reach the terminal); 'auto' picks one. Returns the
 * provider and, for 'auto', why it was picked. Throws one line naming the provider and how to get it.
 */
export async function checkDevice(device: Device): Promise<{ provider: Provider; why?: string }> {
  if (!DEVICES.includes(device)) throw new Error(`unknown device '${device}': use one of ${DEVICES.join(', ')}`);
  if (device === 'auto') return pickProvider();
  await requireProvider(device);
  return { provider: device };
}

function providers(device: Provider): ort.InferenceSession.ExecutionProviderConfig[] {
  return device === 'cpu' ? ['cpu'] : [device, 'cpu'];
}

const LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;

/** Graphs over this many nodes get onnxruntime's basic optimisations only. */
export const LARGE_GRAPH_NODES = 2000;

/**
 * onnxruntime's graph optimisation level: 'all' (its fusions and layout passes), but 'basic' for graphs over
 * LARGE_GRAPH_NODES nodes, whose 'all' costs more load time than it saves (an imported mobilenet_v2's
 * train_step, 5,400 nodes: loads in 2.5 s at 'all', 1.4 s at 'basic', the step as fast; the seed models' graphs
 * are under 1,000 nodes). ONNXTRAIN_ORT_OPT sets it outright (to time the levels, BENCHMARKS.md).
 */
function optimizationLevel(nodes: number | undefined): (typeof LEVELS)[number] {
  const v = process.env.ONNXTRAIN_ORT_OPT;
  if (v === undefined || v === '') return nodes !== undefined && nodes > LARGE_GRAPH_NODES ? 'basic' : 'all';
  if (!(LEVELS as readonly string[]).includes(v)) throw new Error(`ONNXTRAIN_ORT_OPT=${v}: use one of ${LEVELS.join(', ')}, or unset it`);
  return v as (typeof LEVELS)[number];
}

export async function createSession(model: Uint8Array, s: SessionSettings): Promise<ort.InferenceSession> {
  const { provider } = await checkDevice(s.device);
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: providers(provider),
    graphOptimizationLevel: optimizationLevel(s.nodes),
    executionMode: 'sequential',
    interOpNumThreads: 1,
    logSeverityLevel: 3,
    extra: { session: { intra_op: { allow_spinning: s.spinning ? '1' : '0' } } },
  };
  if (s.threads) options.intraOpNumThreads = s.threads;
  if (s.outputLocations) options.preferredOutputLocation = s.outputLocations;
  if (s.optimizedModelPath) options.optimizedModelFilePath = s.optimizedModelPath;
  return ort.InferenceSession.create(model, options);
}
