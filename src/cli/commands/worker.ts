import type { Argv, CommandModule } from 'yargs';
import { builderOf, type ArgsOf, type CliContext } from '../context.js';
import { optional, positiveInt } from '../parse.js';
import { checkQueueUrl, runnerOptions, runnerSettings } from './runner_options.js';

const workerOptions = (y: Argv) =>
  runnerOptions(y
    .option('queue', { type: 'string', demandOption: true, describe: 'the Redis the coordinator queued on: redis://host:6379' })
    .option('concurrency', { type: 'string', describe: 'runs at a time', defaultDescription: '1' })
    .option('stalled-after', { type: 'string', describe: 'seconds without a lock renewal after which a run is handed to another worker', defaultDescription: '30' }));
export type WorkerArgs = ArgsOf<typeof workerOptions>;

export const workerCommand = (ctx: CliContext): CommandModule<object, WorkerArgs> => ({
  command: 'worker',
  describe: 'take experiment runs from a BullMQ queue on Redis and train them into the shared experiment folder (until Ctrl-C)',
  builder: builderOf<WorkerArgs>(workerOptions),
  handler: async (a) => {
    await checkQueueUrl(a.queue);
    const { runWorker } = await import('../../experiments/queue.js');
    ctx.handlesStop();
    await runWorker({
      queue: a.queue,
      concurrency: optional(a.concurrency, (v) => positiveInt('concurrency', v)),
      ...runnerSettings(a),
      stalledAfterSeconds: optional(a.stalledAfter, (v) => positiveInt('stalled-after', v)),
      signal: ctx.signal,
    });
  },
});
