/**
 * The channel block of onnxruntime's NCHWc kernels on this machine. MLAS picks it from the CPU: 16 floats
 * (one 512-bit register) with AVX-512F, 8 with AVX2 + FMA, and no NCHWc kernels otherwise. Read once from
 * the CPU's feature flags, synchronously, because graphs are compiled synchronously;
 * test/program/nchwc.test.ts checks it against the block onnxruntime itself reports.
 */
import { readFileSync } from 'node:fs';

/** 16, 8, or 0 where no NCHWc lowering applies. */
export type BlockSize = 0 | 8 | 16;

/** The block for a /proc/cpuinfo text: its first `flags` line decides. */
export function blockSizeFromCpuinfo(cpuinfo: string): BlockSize {
  const line = cpuinfo.split('\n').find((l) => /^flags\s*:/.test(l));
  if (!line) return 0;
  const flags = new Set(line.slice(line.indexOf(':') + 1).trim().split(/\s+/));
  if (flags.has('avx512f')) return 16;
  return flags.has('avx2') && flags.has('fma') ? 8 : 0;
}

let probed: BlockSize | undefined;

/**
 * This machine's block, probed once; 0 off x86-64 Linux, and 0 when ONNXTRAIN_NCHWC=off (to time or
 * debug the portable graphs on the CPU).
 */
export function nchwcBlockSize(): BlockSize {
  if (process.env.ONNXTRAIN_NCHWC === 'off') return 0;
  if (probed === undefined) {
    try {
      probed = process.arch === 'x64' ? blockSizeFromCpuinfo(readFileSync('/proc/cpuinfo', 'utf8')) : 0;
    } catch {
      probed = 0;
    }
  }
  return probed;
}
