import ort from 'onnxruntime-node';
import { GraphBuilder } from '../graph/builder.js';
import { encodeModel } from '../onnx/model.js';

export type Device = 'cpu' | 'cuda' | 'webgpu';
export const DEVICES: Device[] = ['cpu', 'cuda', 'webgpu'];

export interface SessionSettings {
  /** Execution provider. Default 'cpu'. */
  device: Device;
  /** Intra-op threads; default: onnxruntime's choice (one per core). */
  threads?: number;
  /**
   * Let idle worker threads spin. Default false: on a CPU that other processes share, spinning threads
   * steal the cores the work needs (see BENCHMARKS.md).
   */
  spinning?: boolean;
}

const HOW_TO_GET: Record<Device, string> = {
  cpu: '',
  cuda: 'install the CUDA binaries: (cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=true node script/install) on Linux x64 with CUDA 12 and cuDNN 9 (see README "GPU")',
  webgpu: 'onnxruntime-node ships WebGPU for Windows, macOS and Linux x64; it needs a GPU with Vulkan/Metal/D3D12 drivers (see README "GPU")',
};

function providers(device: Device): ort.InferenceSession.ExecutionProviderConfig[] {
  return device === 'cpu' ? ['cpu'] : [device, 'cpu'];
}

/**
 * Check up front, before any data loads, that an execution provider exists and starts: a one-node session
 * on it alone. onnxruntime's own log lines about a missing provider are silenced; the error says what to do.
 */
export async function checkDevice(device: Device): Promise<void> {
  if (!DEVICES.includes(device)) throw new Error(`unknown device '${device}': use one of ${DEVICES.join(', ')}`);
  const backend = ort.listSupportedBackends().find((b) => b.name === device);
  if (!backend) throw new Error(`onnxruntime-node on this platform has no ${device} execution provider: ${HOW_TO_GET[device]}`);
  if (device === 'cpu') return;
  ort.env.logLevel = 'fatal';
  const b = new GraphBuilder('probe');
  b.output(b.op1('Relu', [b.input('x', 'float32', [1])], {}, { outputs: ['y'] }));
  try {
    const s = await ort.InferenceSession.create(encodeModel(b.graph), { executionProviders: [device], logSeverityLevel: 4 });
    await s.release();
  } catch (e) {
    const why = (e as Error).message.split('\n')[0].replace(/\S+\.(cc|cpp|h):\d+\s*/g, '').replace(/^.*?(Failed to load shared library|cannot open shared object file)/i, '$1').slice(0, 120);
    throw new Error(`the ${device} execution provider could not start (${why}): ${HOW_TO_GET[device]}`);
  }
}

export async function createSession(model: Uint8Array, s: SessionSettings): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: providers(s.device),
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: s.spinning ? '1' : '0' } } },
  };
  if (s.threads) options.intraOpNumThreads = s.threads;
  try {
    return await ort.InferenceSession.create(model, options);
  } catch (e) {
    const msg = (e as Error).message;
    if (s.device !== 'cpu' && /provider|cuda|webgpu|dawn|shared library|\.so/i.test(msg)) {
      throw new Error(`the ${s.device} execution provider could not start (${msg.split('\n')[0].slice(0, 160)}): ${HOW_TO_GET[s.device]}`);
    }
    throw e;
  }
}
