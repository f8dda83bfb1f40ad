import type { Command } from './command.ts';
import { TidemarkError } from '../errors.ts';
import { commands } from './commands/index.ts';

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: tidemark <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `tidemark <command> --help` for the options of one command.',
  ].join('\n');
}

/** Runs one CLI invocation and returns its exit code (never throws). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  const cmd: Command | undefined = commands.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`tidemark: unknown command '${name}'. Valid commands: ${commands.map((c) => c.name).join(', ')}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    const sub = cmd.subcommands?.find((c) => c.name === `${cmd.name} ${rest[0]}`);
    process.stdout.write((sub ?? cmd).help.trimEnd() + '\n');
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (err instanceof TidemarkError) {
      process.stderr.write(`tidemark ${name}: ${err.message} [${err.code}]\n`);
      return 2;
    }
    if (err instanceof Error && (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`tidemark ${name}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
