import type { Argv } from 'yargs';
import { DEVICES } from '../../train/session.js';
import { UsageError } from '../options.js';

const positiveInt = (name: string, v: unknown): number => {
  if (!(Number.isInteger(v) && (v as number) > 0)) throw new UsageError(`--${name} must be a positive integer, got ${String(v)}`);
  return v as number;
};

export const experimentCommand = {
  command: 'experiment [name]',
  describe: 'run an experiment (a set of training runs) into runs/experiments/<name>/ with report.md and report.html',
  builder: (y: Argv) =>
    y
      .positional('name', { type: 'string', describe: 'experiment name (see --list)' })
      .option('list', { type: 'boolean', default: false, describe: 'list the experiments and their variants' })
      .option('epochs', { type: 'number', describe: 'epochs per run (default: the model default, 20; cifar10-cnn 10)' })
      .option('limit', { type: 'number', describe: 'use only the first N training images (quick runs)' })
      .option('only', { type: 'string', array: true, describe: 'run only these variants' })
      .option('out', { type: 'string', default: 'runs/experiments', describe: 'folder holding one folder per experiment' })
      .option('data-dir', { type: 'string', describe: 'folder holding the dataset folders fashion-mnist/ and cifar10/ (default data)' })
      .option('download', { type: 'boolean', default: true, describe: 'download missing datasets (--no-download: report them missing)' })
      .option('seed', { type: 'number', default: 0 })
      .option('threads', { type: 'number', describe: 'onnxruntime intra-op threads (default: one per core)' })
      .option('device', { choices: DEVICES, default: 'cpu' as const }),
  handler: async (a: Record<string, unknown>) => {
    const { EXPERIMENTS } = await import('../../experiments/catalog.js');
    if (a.list) {
      for (const e of EXPERIMENTS) console.log(`${e.name.padEnd(15)} ${e.question}\n${' '.repeat(16)}variants: ${e.variants.map((v) => v.name).join(', ')}`);
      return;
    }
    if (!a.name) throw new UsageError(`name an experiment: ${EXPERIMENTS.map((e) => e.name).join(', ')} (or --list)`);
    if (!EXPERIMENTS.some((e) => e.name === a.name)) throw new UsageError(`unknown experiment '${String(a.name)}': use one of ${EXPERIMENTS.map((e) => e.name).join(', ')}`);
    const { ExperimentInterrupted, runExperiment } = await import('../../experiments/run.js');
    try {
      await runExperiment({
        name: String(a.name),
        epochs: a.epochs === undefined ? undefined : positiveInt('epochs', a.epochs),
        limit: a.limit === undefined ? undefined : positiveInt('limit', a.limit),
        only: a.only as string[] | undefined,
        root: a.out as string,
        dataRoot: a.dataDir as string | undefined,
        download: a.download as boolean,
        seed: a.seed as number,
        threads: a.threads === undefined ? undefined : positiveInt('threads', a.threads),
        device: a.device as (typeof DEVICES)[number],
      });
    } catch (e) {
      if (e instanceof ExperimentInterrupted) {
        console.error(e.message);
        process.exit(130);
      }
      throw e;
    }
  },
};
