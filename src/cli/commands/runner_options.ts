import type { Argv } from 'yargs';
import { DEVICES } from '../../train/session.js';
import type { ArgsOf } from '../context.js';
import { optional, positiveInt, UsageError } from '../parse.js';

/** Where and how the runs of `experiment` and `worker` train on this machine: the options both declare. */
export const runnerOptions = <T>(y: Argv<T>) =>
  y
    .option('threads', { type: 'string', describe: 'onnxruntime intra-op threads per run', defaultDescription: 'one per core' })
    .option('device', { choices: DEVICES, defaultDescription: 'cpu' })
    .option('data-dir', { type: 'string', describe: 'folder holding the dataset folders fashion-mnist/ and cifar10/ on this machine (default data)' })
    .option('download', { type: 'boolean', default: true, describe: 'download missing datasets (--no-download: report them missing)' });
type RunnerArgs = ArgsOf<typeof runnerOptions>;

export const runnerSettings = (a: RunnerArgs) => ({
  threads: optional(a.threads, (v) => positiveInt('threads', v)),
  device: a.device,
  dataRoot: a.dataDir,
  download: a.download,
});

/** The --queue URL checked before anything starts: a usage error (exit 2) when it is not a Redis URL. */
export async function checkQueueUrl(url: string): Promise<void> {
  const { redisConnection } = await import('../../experiments/queue.js');
  try {
    redisConnection(url);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
