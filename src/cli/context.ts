import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';

/** What the bin gives every command: the stop signal (Ctrl-C, SIGTERM) and where lines go. */
export interface CliContext {
  signal: AbortSignal;
  /** A command that stops cleanly on the signal says so; the bin exits at once on a signal otherwise. */
  handlesStop(): void;
}

/** A command's typed arguments, inferred from the function that declares its options. */
export type ArgsOf<F extends (y: Argv) => Argv<unknown>> = ArgumentsCamelCase<Awaited<ReturnType<F>['argv']>>;

/** That function as the command's builder (yargs types builders loosely: the arguments type comes from ArgsOf). */
export const builderOf = <A>(f: (y: Argv) => Argv<unknown>) => f as unknown as CommandModule<object, A>['builder'];
