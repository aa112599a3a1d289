/** What the bin gives every command: the stop signal (Ctrl-C, SIGTERM) and where lines go. */
export interface CliContext {
  signal: AbortSignal;
}
