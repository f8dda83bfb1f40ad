/** A `tidemark` sub-command. `run` returns the process exit code. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Full `--help` text: usage line, options with defaults, an example. */
  readonly help: string;
  run(argv: string[]): Promise<number>;
}
