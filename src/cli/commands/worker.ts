import type { Argv, CommandModule } from 'yargs';
import { DEVICES } from '../../train/session.js';
import { builderOf, type ArgsOf, type CliContext } from '../context.js';
import { optional, positiveInt, UsageError } from '../parse.js';

const workerOptions = (y: Argv) =>
  y
    .option('queue', { type: 'string', demandOption: true, describe: 'the Redis the coordinator queued on: redis://host:6379' })
    .option('concurrency', { type: 'string', describe: 'runs at a time', defaultDescription: '1' })
    .option('threads', { type: 'string', describe: 'onnxruntime intra-op threads per run', defaultDescription: 'one per core' })
    .option('device', { choices: DEVICES, defaultDescription: 'cpu' })
    .option('data-dir', { type: 'string', describe: 'folder holding the dataset folders fashion-mnist/ and cifar10/ on this machine (default data)' })
    .option('download', { type: 'boolean', default: true, describe: 'download missing datasets (--no-download: report them missing)' })
    .option('stalled-after', { type: 'string', describe: 'seconds without a lock renewal after which a run is handed to another worker', defaultDescription: '30' });
export type WorkerArgs = ArgsOf<typeof workerOptions>;

export const workerCommand = (ctx: CliContext): CommandModule<object, WorkerArgs> => ({
  command: 'worker',
  describe: 'take experiment runs from a BullMQ queue on Redis and train them into the shared experiment folder (until Ctrl-C)',
  builder: builderOf<WorkerArgs>(workerOptions),
  handler: async (a) => {
    const { redisConnection, runWorker } = await import('../../experiments/queue.js');
    try {
      redisConnection(a.queue);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    ctx.handlesStop();
    await runWorker({
      queue: a.queue,
      concurrency: optional(a.concurrency, (v) => positiveInt('concurrency', v)),
      threads: optional(a.threads, (v) => positiveInt('threads', v)),
      device: a.device,
      dataRoot: a.dataDir,
      download: a.download,
      stalledAfterSeconds: optional(a.stalledAfter, (v) => positiveInt('stalled-after', v)),
      signal: ctx.signal,
    });
  },
});
