/** The onnxtrain command line: thin commands that parse arguments into settings and call the library. */
import yargs, { type Argv } from 'yargs';
import { buildGraphsCommand } from './commands/build_graphs.js';
import { experimentCommand } from './commands/experiment.js';
import { importCommand } from './commands/import.js';
import { evaluateCommand, exportWebCommand, predictCommand, serveCommand } from './commands/run_tools.js';
import { summaryCommand } from './commands/summary.js';
import { trainCommand } from './commands/train.js';
import { workerCommand } from './commands/worker.js';
import type { CliContext } from './context.js';

/** A usage error found by yargs itself (unknown option, bad choice, missing argument): exit code 2. */
export class YargsUsageError extends Error {
  override name = 'UsageError';
}

/** The parser, ready for parseAsync(); it reports failures by throwing, never by exiting. */
export function buildCli(argv: string[], ctx: CliContext): Argv {
  return yargs(argv)
    .scriptName('onnxtrain')
    .command(buildGraphsCommand)
    .command(summaryCommand)
    .command(importCommand)
    .command(trainCommand(ctx))
    .command(evaluateCommand)
    .command(predictCommand)
    .command(exportWebCommand)
    .command(serveCommand(ctx))
    .command(experimentCommand(ctx))
    .command(workerCommand(ctx))
    .demandCommand(1, 'name a command: see --help')
    .strict()
    .parserConfiguration({ 'camel-case-expansion': true })
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      // yargs' own messages span lines ("Invalid values:\n  Argument: ..."): keep them on one.
      throw new YargsUsageError(msg.replace(/\s*\n\s*/g, ' '));
    })
    .help();
}
