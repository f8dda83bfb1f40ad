import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Command } from '../command.ts';
import { TidemarkError } from '../../errors.ts';
import { configDiff, describeConfigChange, formatConfigIssue, loadConfig, type LoadResult } from '../../config/index.ts';

const HELP = `Usage: tidemark config validate [--json] FILE...
       tidemark config diff OLD NEW

Check tenant configuration files, or compare two versions of one.

validate   Loads each FILE (one tenant per file) and prints every problem as
           FILE: path (line N): message
           Exits 2 if any file has a problem, else prints a summary and exits 0.
diff       Prints what changed (rules, receivers, metrics, limits, route) and a
           unified line diff. Both files must be valid. Exits 0.

Options:
  --json   validate: print {files: [{file, tenant, errors: [{code, path, line, message}]}]}
  -h, --help

Example:
  tidemark config validate examples/tidemark.yaml
`;

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new TidemarkError('TM_ERR_INPUT', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

async function validate(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { json: { type: 'boolean', default: false } }, allowPositionals: true, strict: true });
  if (positionals.length === 0) throw new TidemarkError('TM_ERR_USAGE', 'config validate needs at least one FILE; see tidemark config --help');
  const results: LoadResult[] = positionals.map((file) => loadConfig(read(file), file));
  // One tenant per file: the same tenant twice would make one file silently win.
  const tenants = new Map<string, string>();
  const extra = new Map<string, string>();
  for (const r of results) {
    if (!r.config) continue;
    const other = tenants.get(r.config.tenant);
    if (other) extra.set(r.source, `tenant '${r.config.tenant}' is also configured in ${other}`);
    else tenants.set(r.config.tenant, r.source);
  }
  const failed = results.filter((r) => r.errors.length > 0 || extra.has(r.source));
  if (values.json) {
    const files = results.map((r) => ({
      file: r.source,
      tenant: r.config?.tenant ?? null,
      errors: [...r.errors, ...(extra.has(r.source) ? [{ code: 'TM_ERR_CONFIG', path: 'tenant', line: undefined, message: extra.get(r.source) }] : [])],
    }));
    process.stdout.write(JSON.stringify({ valid: failed.length === 0, files }, null, 2) + '\n');
    return failed.length ? 2 : 0;
  }
  if (failed.length) {
    let count = 0;
    for (const r of results) {
      for (const e of r.errors) process.stderr.write(`${r.source}: ${formatConfigIssue(e)}\n`);
      const dup = extra.get(r.source);
      if (dup) process.stderr.write(`${r.source}: tenant: ${dup}\n`);
      count += r.errors.length + (dup ? 1 : 0);
    }
    process.stderr.write(`${plural(count, 'problem')} in ${plural(failed.length, 'file')}; nothing was loaded\n`);
    return 2;
  }
  let metrics = 0;
  let rules = 0;
  let receivers = 0;
  for (const r of results) {
    const c = r.config!;
    metrics += c.metrics.length;
    rules += c.rules.length;
    receivers += c.receivers.length;
    process.stdout.write(`${r.source}: ok (tenant ${c.tenant}: ${plural(c.metrics.length, 'metric')}, ${plural(c.rules.length, 'rule')}, ${plural(c.receivers.length, 'receiver')})\n`);
  }
  if (results.length > 1) {
    process.stdout.write(`valid: ${plural(results.length, 'tenant')}, ${plural(metrics, 'metric')}, ${plural(rules, 'rule')}, ${plural(receivers, 'receiver')}\n`);
  }
  return 0;
}

async function diff(argv: string[]): Promise<number> {
  const { positionals } = parseArgs({ args: argv, options: {}, allowPositionals: true, strict: true });
  if (positionals.length !== 2) throw new TidemarkError('TM_ERR_USAGE', 'config diff needs exactly two files: OLD NEW');
  const [oldFile, newFile] = positionals;
  const [oldText, newText] = [read(oldFile), read(newFile)];
  const loaded = [loadConfig(oldText, oldFile), loadConfig(newText, newFile)];
  const bad = loaded.filter((r) => !r.config);
  if (bad.length) {
    for (const r of bad) for (const e of r.errors) process.stderr.write(`${r.source}: ${formatConfigIssue(e)}\n`);
    process.stderr.write('config diff compares valid configs only; fix the problems above first\n');
    return 2;
  }
  const summary = describeConfigChange(loaded[0].config, loaded[1].config!);
  const text = configDiff(oldText, newText, { oldName: oldFile, newName: newFile });
  if (!text) {
    process.stdout.write('no change\n');
    return 0;
  }
  process.stdout.write((summary.length ? summary.map((s) => `# ${s}`) : ['# comments or formatting only']).join('\n') + '\n' + text);
  return 0;
}

/** `tidemark config validate|diff`. */
export const configCommand: Command = {
  name: 'config',
  summary: 'Validate tenant config files (every error, with path and line) or diff two versions',
  help: HELP,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'validate') return validate(rest);
    if (sub === 'diff') return diff(rest);
    const what = sub === undefined ? 'a sub-command' : `a known sub-command, not '${sub}'`;
    throw new TidemarkError('TM_ERR_USAGE', `config needs ${what}: validate or diff; see tidemark config --help`);
  },
};
