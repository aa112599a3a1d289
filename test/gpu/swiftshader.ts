/**
 * The WebGPU provider on a machine without a GPU: Vulkan pointed at SwiftShader, the software Vulkan
 * driver Debian's chromium package ships, with a private XDG_RUNTIME_DIR (Vulkan's loader wants one).
 * Call before the first webgpu session of the process: the loader reads these once.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeProvider } from '../../src/train/device/probe.js';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Point Vulkan at SwiftShader unless a driver is already chosen; false when it is not installed. */
export function useSwiftShader(): boolean {
  if (!process.env.XDG_RUNTIME_DIR || !existsSync(process.env.XDG_RUNTIME_DIR)) {
    process.env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'onnxtrain-xdg-'));
  }
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return true;
  if (!existsSync(SWIFTSHADER_ICD)) return false;
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  return true;
}

/** false when webgpu starts here (through SwiftShader if need be), else why the tests skip. */
export async function webgpuSkipReason(): Promise<string | false> {
  if (!useSwiftShader()) return `no Vulkan driver chosen and SwiftShader is not installed (${SWIFTSHADER_ICD}: apt-get install chromium)`;
  const r = await probeProvider('webgpu');
  return r.ok ? false : `the webgpu provider does not start here: ${r.error}`;
}
