import type { Argv, CommandModule } from 'yargs';
import { builderOf, type ArgsOf, type CliContext } from '../context.js';
import { nonNegativeInt, optional, positiveInt, intAtLeast, UsageError } from '../parse.js';
import { checkQueueUrl, runnerOptions, runnerSettings } from './runner_options.js';

const experimentOptions = (y: Argv) =>
  runnerOptions(y
    .positional('name', { type: 'string', describe: 'experiment name (see --list)' })
    .option('list', { type: 'boolean', default: false, describe: 'list the experiments and their variants' })
    .option('epochs', { type: 'string', describe: 'epochs per run', defaultDescription: 'the model default, 20; cifar10-cnn 10' })
    .option('limit', { type: 'string', describe: 'use only the first N training images (quick runs)' })
    .option('only', { type: 'string', array: true, describe: 'run only these variants' })
    .option('out', { type: 'string', default: 'runs/experiments', describe: 'folder holding one folder per experiment' })
    .option('seed', { type: 'string', describe: 'the first seed', defaultDescription: '0' })
    .option('seeds', { type: 'string', describe: 'seeds per variant (seed, seed+1, ...): the report gives mean ± sd, 95 % intervals and paired tests', defaultDescription: '1' })
    .option('queue', { type: 'string', describe: 'run on workers: enqueue each (variant, seed) run as a BullMQ job on this Redis (redis://host:6379), watch, then write the report; --out must be a folder every worker sees' })
    .option('attempts', { type: 'string', describe: 'with --queue: tries per run before it is marked failed', defaultDescription: '3' }));
export type ExperimentArgs = ArgsOf<typeof experimentOptions>;

export const experimentCommand = (ctx: CliContext): CommandModule<object, ExperimentArgs> => ({
  command: 'experiment [name]',
  describe: 'run an experiment (a set of training runs) into runs/experiments/<name>/ with report.md and report.html',
  builder: builderOf<ExperimentArgs>(experimentOptions),
  handler: async (a) => {
    const { EXPERIMENTS } = await import('../../experiments/catalog.js');
    if (a.list) {
      for (const e of EXPERIMENTS) console.log(`${e.name.padEnd(15)} ${e.question}\n${' '.repeat(16)}variants: ${e.variants.map((v) => v.name).join(', ')}`);
      return;
    }
    const exp = EXPERIMENTS.find((e) => e.name === a.name);
    if (!a.name) throw new UsageError(`name an experiment: ${EXPERIMENTS.map((e) => e.name).join(', ')} (or --list)`);
    if (!exp) throw new UsageError(`unknown experiment '${a.name}': use one of ${EXPERIMENTS.map((e) => e.name).join(', ')}`);
    const unknown = (a.only ?? []).find((o) => !exp.variants.some((v) => v.name === o));
    if (unknown !== undefined) throw new UsageError(`--only ${unknown}: experiment '${exp.name}' has no such variant; use ${exp.variants.map((v) => v.name).join(', ')}`);
    const attempts = optional(a.attempts, (v) => positiveInt('attempts', v));
    if (attempts !== undefined && !a.queue) throw new UsageError('--attempts applies to --queue runs only: add --queue redis://host:6379, or drop --attempts');
    if (a.queue) await checkQueueUrl(a.queue);
    const { runExperiment } = await import('../../experiments/run.js');
    ctx.handlesStop();
    const { runExperimentOnQueue } = a.queue ? await import('../../experiments/queue.js') : { runExperimentOnQueue: null };
    const settings = {
      name: exp.name,
      epochs: optional(a.epochs, (v) => positiveInt('epochs', v)),
      limit: optional(a.limit, (v) => intAtLeast('limit', v, 2)),
      only: a.only,
      root: a.out,
      seed: optional(a.seed, (v) => nonNegativeInt('seed', v)),
      seeds: optional(a.seeds, (v) => positiveInt('seeds', v)),
      ...runnerSettings(a),
      signal: ctx.signal,
    };
    if (runExperimentOnQueue && a.queue) await runExperimentOnQueue({ ...settings, queue: a.queue, attempts });
    else await runExperiment(settings);
  },
});
