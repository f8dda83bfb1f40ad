import type { Command } from '../command.ts';
import { configCommand } from './config.ts';
import { evalCommand } from './eval.ts';
import { injectCommand } from './inject.ts';
import { replayCommand } from './replay.ts';
import { serveCommand } from './serve.ts';
import { backfillCommand } from './backfill.ts';
import { workerCommand } from './worker.ts';
import { backtestCommand } from './backtest.ts';

/** Every `tidemark` sub-command, in the order `--help` lists them. */
export const commands: readonly Command[] = [serveCommand, workerCommand, backfillCommand, configCommand, injectCommand, replayCommand, backtestCommand, evalCommand];
