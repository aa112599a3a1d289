/** What the bin gives every command: the stop signal (Ctrl-C, SIGTERM) and where lines go. */
export interface CliContext {
  signal: AbortSignal;
  /** A command that stops cleanly on the signal says so; the bin exits at once on a signal otherwise. */
  handlesStop(): void;
}
