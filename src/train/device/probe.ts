/**
 * Which execution providers start on this machine, probed in a child process so that a provider's driver
 * messages (Dawn/Vulkan warnings, CUDA loader errors) and crashes stay out of the user's terminal; and
 * `--device auto`: the best provider that starts.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';

export type Provider = 'cpu' | 'cuda' | 'webgpu';

export const HOW_TO_GET: Record<Provider, string> = {
  cpu: '',
  cuda: 'install the CUDA binaries of onnxruntime-node: (cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js) on Linux x64 with an NVIDIA driver, CUDA 12 and cuDNN 9 (see README "GPU")',
  webgpu: 'onnxruntime-node ships WebGPU for Windows, macOS and Linux x64; it needs a GPU driver with Vulkan, Metal or D3D12 (on Linux without a GPU: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json, from Debian\'s chromium; see README "GPU")',
};

export interface ProbeResult {
  provider: Provider;
  ok: boolean;
  /** Why it did not start, one line; absent when it did. */
  error?: string;
  /** webgpu: the Vulkan drivers that would run it are software renderers (SwiftShader, lavapipe). */
  software?: boolean;
}

/** The driver's reason, as one short line without source paths or C++ signatures. */
function reason(message: string, stderr: string): string {
  const vulkan = /Couldn't load Vulkan: ([^\n]+)/.exec(stderr);
  if (vulkan) return `the Vulkan loader is missing: ${vulkan[1].trim()}`;
  if (/Found no drivers|VK_ERROR_INCOMPATIBLE_DRIVER/.test(stderr)) return 'no Vulkan driver found';
  if (/shaderUniform\*ArrayDynamicIndexing required/.test(stderr)) return 'no Vulkan driver here has the features WebGPU needs (Mesa\'s lavapipe lacks shaderUniform*ArrayDynamicIndexing)';
  const first = message.split('\n')[0];
  const tail = /Failed to get a WebGPU adapter: (.*)$/.exec(first)?.[1] ?? /(Failed to load shared library.*|cannot open shared object file.*)$/i.exec(first)?.[1] ?? first;
  return tail.replace(/\S+\.(cc|cpp|h):\d+\s*/g, '').replace(/\s+/g, ' ').trim().slice(0, 160);
}

/** The Vulkan ICD manifests the loader reads: VK_DRIVER_FILES / VK_ICD_FILENAMES, else the system's. */
function vulkanDrivers(): string[] {
  const env = process.env.VK_DRIVER_FILES || process.env.VK_ICD_FILENAMES;
  if (env) return env.split(':').filter(Boolean);
  const dirs = ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
  return dirs.filter(existsSync).flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.json')).map((f) => join(d, f)));
}

/** Linux only: every Vulkan driver is a software renderer (SwiftShader, lavapipe, llvmpipe). */
export function softwareVulkanOnly(): boolean {
  if (process.platform !== 'linux') return false;
  const software = /swiftshader|lvp|lavapipe|llvmpipe/i;
  const drivers = vulkanDrivers();
  return drivers.every((f) => {
    let lib = f;
    try {
      lib = JSON.parse(readFileSync(f, 'utf8'))?.ICD?.library_path ?? f;
    } catch {
      // An unreadable manifest: judge by its file name.
    }
    return software.test(lib) || software.test(f);
  });
}

/** Where onnxruntime-node keeps its native libraries for this platform. */
const ORT_BINARIES = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
const CHILD = fileURLToPath(new URL('./probe_child.js', import.meta.url));
const probes = new Map<Provider, Promise<ProbeResult>>();

/** Start `provider` on a one-node graph in a child process (once per process; cpu is not probed). */
export function probeProvider(provider: Provider): Promise<ProbeResult> {
  if (provider === 'cpu') return Promise.resolve({ provider, ok: true });
  let p = probes.get(provider);
  if (!p) probes.set(provider, (p = runProbe(provider)));
  return p;
}

async function runProbe(provider: Provider): Promise<ProbeResult> {
  if (!ort.listSupportedBackends().some((b) => b.name === provider)) {
    return { provider, ok: false, error: `onnxruntime-node has no ${provider} execution provider on this platform (${process.platform}-${process.arch})` };
  }
  if (provider === 'cuda' && !existsSync(join(ORT_BINARIES, 'libonnxruntime_providers_cuda.so'))) {
    return { provider, ok: false, error: `libonnxruntime_providers_cuda.so is not installed in ${ORT_BINARIES}` };
  }
  const software = provider === 'webgpu' ? softwareVulkanOnly() : undefined;
  return new Promise((resolve) => {
    execFile(process.execPath, [CHILD, provider], { timeout: 120_000, encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      let r: { ok: boolean; error?: string } | null = null;
      try {
        r = JSON.parse(line);
      } catch {
        r = null;
      }
      if (r?.ok) return resolve({ provider, ok: true, software });
      const why = r ? reason(r.error ?? '', stderr) : `the probe process ${err?.signal ? `was killed by ${err.signal}` : `exited with ${err?.code ?? 'no result'}`}${stderr ? `: ${reason(stderr.trim().split('\n').pop() ?? '', stderr)}` : ''}`;
      resolve({ provider, ok: false, error: why, software });
    });
  });
}

/** Throws one line naming the provider, why it failed, and how to get it. */
export async function requireProvider(provider: Provider): Promise<ProbeResult> {
  const r = await probeProvider(provider);
  if (!r.ok) throw new Error(`the ${provider} execution provider could not start (${r.error}): ${HOW_TO_GET[provider]}`);
  return r;
}

/**
 * `--device auto`: cuda if it starts; else webgpu if it starts on a hardware GPU; else cpu. Says which
 * and why in one line.
 */
export async function pickProvider(): Promise<{ provider: Provider; why: string }> {
  const [cuda, webgpu] = await Promise.all([probeProvider('cuda'), probeProvider('webgpu')]);
  if (cuda.ok) return { provider: 'cuda', why: 'the CUDA provider starts' };
  const noCuda = `cuda: ${cuda.error}`;
  if (webgpu.ok && !webgpu.software) return { provider: 'webgpu', why: `the WebGPU provider starts on a GPU (${noCuda})` };
  const noWebgpu = webgpu.ok ? 'webgpu: only a software Vulkan driver (SwiftShader/lavapipe), slower than the CPU' : `webgpu: ${webgpu.error}`;
  return { provider: 'cpu', why: `no GPU provider starts (${noCuda}; ${noWebgpu})` };
}
