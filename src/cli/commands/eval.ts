import type { Command } from '../command.ts';
import { evalNabCommand } from './eval-nab.ts';
import { evalRcaCommand } from './eval-rca.ts';
import { evalScoreCommand } from './eval-score.ts';

// `tidemark eval <sub>` dispatches to these; their names are 'eval <sub>'.
const subcommands: readonly Command[] = [evalNabCommand, evalScoreCommand, evalRcaCommand];

const width = Math.max(...subcommands.map((c) => c.name.length));
const overview = `Usage: tidemark eval <nab|score|rca> [options]

Offline evaluation: benchmark runs and scorers.

${subcommands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}
`;

const help = overview;

/** `tidemark eval`: the evaluation sub-commands (`nab`, `score`, `rca`). */
export const evalCommand: Command = {
  name: 'eval',
  summary: 'Evaluate detectors offline: NAB runs and scores, root-cause scoring',
  help,
  subcommands,
  async run(argv) {
    const [sub, ...rest] = argv;
    const cmd = subcommands.find((c) => c.name === `eval ${sub}`);
    if (cmd === undefined) {
      const valid = subcommands.map((c) => c.name.slice(5)).join(', ');
      process.stderr.write(
        sub === undefined
          ? `tidemark eval: a sub-command is required (${valid}); see tidemark eval --help\n`
          : `tidemark eval: unknown sub-command '${sub}' (valid: ${valid})\n`,
      );
      return 2;
    }
    return cmd.run(rest);
  },
};
