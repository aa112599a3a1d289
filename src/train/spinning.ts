import { availableParallelism, cpus } from 'node:os';

/**
 * Whether onnxruntime's idle intra-op threads spin-wait between kernels ('session.intra_op.allow_spinning').
 * 'auto' spins only when the cores this run uses are otherwise idle, as OpenMP (and so PyTorch) spins by
 * default but backs off when there are more threads than free CPUs. Measured in BENCHMARKS.md: at 2
 * threads on a free 2-core machine spinning makes the MLPs ~35 % and basic-cnn ~10 % faster, at twice the
 * CPU time; with another process on a core it burns that core for nothing. The decision is made before
 * training and revisited between chunks (SpinWatch), so that load arriving later turns spinning off.
 */
export type SpinPolicy = 'auto' | 'on' | 'off';
export const SPIN_POLICIES: SpinPolicy[] = ['auto', 'on', 'off'];

export interface SpinDecision {
  spinning: boolean;
  /** Why, for the run's first line: 'spinning', 'no spinning: 1 thread', 'no spinning: cores busy (1.0 of 2 in use elsewhere)'. */
  why: string;
}

/** Cores' worth of CPU time the whole machine used between two os.cpus() readings (0..cores). */
export function busyCores(before: ReturnType<typeof cpus>, after: ReturnType<typeof cpus>): number {
  let busy = 0;
  let total = 0;
  after.forEach((c, i) => {
    const b = before[i];
    if (!b) return;
    const d = (k: keyof typeof c.times) => c.times[k] - b.times[k];
    const all = d('user') + d('nice') + d('sys') + d('idle') + d('irq');
    busy += all - d('idle');
    total += all;
  });
  return total > 0 ? (busy / total) * after.length : 0;
}

/**
 * The decision for a run with `threads` intra-op threads (undefined: onnxruntime's one per core) on
 * `cores` cores while other processes keep `busy` cores' worth busy.
 */
export function decideSpinning(policy: SpinPolicy, threads: number | undefined, cores: number, busy: number): SpinDecision {
  if (policy === 'on') return { spinning: true, why: 'spinning (--spinning on)' };
  if (policy === 'off') return { spinning: false, why: 'no spinning (--spinning off)' };
  const n = threads ?? cores;
  if (n <= 1) return { spinning: false, why: 'no spinning: 1 thread' };
  // A quarter of a core of background work (daemons, a shell) still leaves the cores free enough.
  if (busy > cores - n + 0.25) return { spinning: false, why: `no spinning: cores busy (${busy.toFixed(1)} of ${cores} in use elsewhere)` };
  return { spinning: true, why: 'spinning' };
}

/**
 * Resolve a policy on this machine: 'auto' samples the CPU load for `sampleMs` first. `ownWorkers` counts
 * busy threads of this process that the sample cannot see yet (the augmentation worker, which starts later).
 */
export async function resolveSpinning(policy: SpinPolicy, threads: number | undefined, opts: { sampleMs?: number; ownWorkers?: number } = {}): Promise<SpinDecision> {
  if (policy !== 'auto') return decideSpinning(policy, threads, availableParallelism(), 0);
  const before = sampleLoad();
  await new Promise((r) => setTimeout(r, opts.sampleMs ?? 200));
  const after = sampleLoad();
  return decideSpinning(policy, threads, after.cpus.length, otherCores(before, after) + (opts.ownWorkers ?? 0));
}

/** The policy from a CLI value or an older run's config (a boolean there). */
export function spinPolicy(v: unknown): SpinPolicy {
  if (v === true) return 'on';
  if (v === false) return 'off';
  if (v === undefined) return 'auto';
  if (typeof v === 'string' && (SPIN_POLICIES as string[]).includes(v)) return v as SpinPolicy;
  throw new Error(`--spinning must be auto, on or off, got '${String(v)}'`);
}

/** One reading: every CPU's times, this process's CPU milliseconds (all threads), and the wall clock. */
export interface LoadSample {
  cpus: ReturnType<typeof cpus>;
  ownMs: number;
  t: number;
}

export function sampleLoad(): LoadSample {
  const u = process.cpuUsage();
  return { cpus: cpus(), ownMs: (u.user + u.system) / 1000, t: performance.now() };
}

/** Cores' worth of CPU that other processes used between two readings: the machine's less this process's. */
function otherCores(before: LoadSample, after: LoadSample): number {
  const ms = after.t - before.t;
  const own = ms > 0 ? (after.ownMs - before.ownMs) / ms : 0;
  return Math.max(0, busyCores(before.cpus, after.cpus) - own);
}

/**
 * 'auto' during training: between chunks, how much CPU other processes used since the last reading
 * (the machine's busy time less this process's). A different decision must be seen twice in a row, over
 * readings at least `minMs` apart, before it is returned, so that a short burst elsewhere does not make
 * the runner rebuild its sessions.
 */
export class SpinWatch {
  private last: LoadSample;
  private pending: boolean | null = null;

  constructor(
    private readonly threads: number | undefined,
    private readonly ownWorkers: number,
    private readonly sample: () => LoadSample = sampleLoad,
    private readonly minMs = 1000,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.last = sample();
  }

  /** The new decision when spinning should change from `current`, else null. Cheap until minMs have passed. */
  check(current: boolean): SpinDecision | null {
    if (this.clock() - this.last.t < this.minMs) return null;
    const now = this.sample();
    const others = otherCores(this.last, now);
    this.last = now;
    const d = decideSpinning('auto', this.threads, now.cpus.length, others + this.ownWorkers);
    if (d.spinning === current) {
      this.pending = null;
      return null;
    }
    if (this.pending !== d.spinning) {
      this.pending = d.spinning;
      return null;
    }
    this.pending = null;
    return d;
  }
}
