/** A `tidemark` sub-command. `run` returns the process exit code. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Full `--help` text: usage line, options with defaults, an example. */
  readonly help: string;
  run(argv: string[]): Promise<number>;
  /** Sub-commands named `<parent> <sub>`; `tidemark <parent> <sub> --help` prints the sub's help. */
  readonly subcommands?: readonly Command[];
}
