#!/usr/bin/env node
/**
 * The `onnxtrain` executable: runs the command line and turns its outcome into an exit code. The first
 * Ctrl-C (or SIGTERM) asks training to stop after its current chunk and save; a second one quits at once.
 * Exit codes: 0 done, 1 error, 2 usage error, 130 stopped by Ctrl-C, 143 stopped by SIGTERM.
 */
import { hideBin } from 'yargs/helpers';
import { buildCli } from './cli.js';

const controller = new AbortController();
let stopCode = 0;
let handled = false;
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(sig, () => {
    if (controller.signal.aborted || !handled) process.exit(stopCode || code);
    stopCode = code;
    process.stderr.write('\nstopping after the current chunk of work, saving first (press Ctrl-C again to quit at once, without saving)\n');
    controller.abort();
  });
}

try {
  await buildCli(hideBin(process.argv), { signal: controller.signal, handlesStop: () => (handled = true) }).parseAsync();
  if (stopCode) process.exitCode = stopCode;
} catch (e) {
  const err = e as Error;
  process.stderr.write(`onnxtrain: ${err.message.split('\n')[0]}\n`);
  process.exitCode = err.name === 'UsageError' ? 2 : /Interrupted$/.test(err.name) ? stopCode || 130 : 1;
}
