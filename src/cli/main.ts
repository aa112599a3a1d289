#!/usr/bin/env node
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { buildGraphsCommand } from './commands/build_graphs.js';
import { experimentCommand } from './commands/experiment.js';
import { summaryCommand } from './commands/summary.js';
import { trainCommand } from './commands/train.js';
import { evaluateCommand, exportWebCommand, predictCommand, serveCommand } from './commands/run_tools.js';

/** The onnxtrain command line: thin commands that parse arguments into settings and call the library. */
export async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('onnxtrain')
    .command(buildGraphsCommand)
    .command(summaryCommand)
    .command(trainCommand)
    .command(evaluateCommand)
    .command(predictCommand)
    .command(exportWebCommand)
    .command(serveCommand)
    .command(experimentCommand)
    .demandCommand(1, 'name a command: see --help')
    .strict()
    .parserConfiguration({ 'camel-case-expansion': true })
    .fail((msg, err) => {
      // yargs' own messages span lines ("Invalid values:\n  Argument: ..."): keep them on one.
      const text = err ? err.message.split('\n')[0] : msg.replace(/\s*\n\s*/g, ' ');
      process.stderr.write(`onnxtrain: ${text}\n`);
      process.exit(err && !(err.name === 'UsageError') ? 1 : 2);
    })
    .help()
    .parseAsync();
}

main(hideBin(process.argv)).catch((e: Error) => {
  process.stderr.write(`onnxtrain: ${e.message.split('\n')[0]}\n`);
  process.exit(1);
});
