import type { Command } from '../command.ts';

/** Every `tidemark` sub-command, in the order `--help` lists them. */
export const commands: readonly Command[] = [];
