import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import type { Command } from '../command.ts';
import { TidemarkError } from '../../errors.ts';
import { addCounts, localize, parseElementSet, parseLeafCsv, rcaScore, scoreCase } from '../../explain/index.ts';
import type { RcaCounts, RcaScore } from '../../explain/index.ts';

const HELP = `Usage: tidemark eval rca --data DIR --out FILE [--max-layer N] [--counts] [--json]

Localises the root cause of every case under DIR and writes one JSON line per case:
  {"case": "<setting>/<timestamp>", "root_causes": [["a=a1","b=b2"], ...]}
Cases are DIR/<setting>/<timestamp>.csv.gz (or .csv) with header real,predict,<dims...>.
When a setting holds injection_info.csv (columns set, timestamp), prints micro F1, precision
and recall per setting and overall (exact element match, TP/FP/FN summed), and seconds per case.

Options:
  --data DIR       folder of settings (e.g. datasets/rca-dev/B0)       (required)
  --out FILE       JSON-lines output                                     (required)
  --max-layer N    deepest element searched, in dimensions               (default 4)
  --counts         values are event counts: add Poisson noise to the relative noise
  --json           end with one line: RCA {"micro_f1":..,"precision":..,"recall":..,"seconds_per_case":..,...}

Seconds per case are wall clock and, in brackets, CPU time of this process.

Example:
  tidemark eval rca --data ../shared/datasets/rca-dev/B0 --out /tmp/rca.jsonl
`;

interface CaseFile {
  setting: string;
  id: string;
  path: string;
}

function listCases(dir: string): { cases: CaseFile[]; truthFiles: Map<string, string> } {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    throw new TidemarkError('TM_ERR_USAGE', `cannot read --data folder '${dir}'`, '--data');
  }
  const cases: CaseFile[] = [];
  const truthFiles = new Map<string, string>();
  for (const setting of names) {
    const sdir = join(dir, setting);
    if (!statSync(sdir).isDirectory()) continue;
    for (const f of readdirSync(sdir).sort()) {
      if (f === 'injection_info.csv') {
        truthFiles.set(setting, join(sdir, f));
        continue;
      }
      const m = /^(.+)\.csv(\.gz)?$/.exec(f);
      if (m) cases.push({ setting, id: m[1], path: join(sdir, f) });
    }
  }
  if (cases.length === 0) {
    throw new TidemarkError('TM_ERR_USAGE', `no cases under '${dir}'; expected ${dir}/<setting>/<timestamp>.csv.gz`, '--data');
  }
  return { cases, truthFiles };
}

/** timestamp -> elements, from an injection_info.csv (columns include `set` and `timestamp`). */
function readTruth(path: string): Map<string, string[][]> {
  const lines = readFileSync(path, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  const si = header.indexOf('set');
  const ti = header.indexOf('timestamp');
  if (si < 0 || ti < 0) throw new TidemarkError('TM_ERR_INPUT', `header needs columns 'set' and 'timestamp', got '${lines[0] ?? ''}'`, path);
  const out = new Map<string, string[][]>();
  for (let i = 1; i < lines.length; i++) {
    const cols = lines[i].split(',');
    if (cols.length !== header.length) throw new TidemarkError('TM_ERR_INPUT', `expected ${header.length} fields, got ${cols.length}`, `${path}:${i + 1}`);
    out.set(cols[ti].trim(), parseElementSet(cols[si], `${path}:${i + 1}`));
  }
  return out;
}

function fmt(s: RcaScore): string {
  return `${String(s.tp).padStart(4)} ${String(s.fp).padStart(4)} ${String(s.fn).padStart(4)}  ${s.precision.toFixed(3)}  ${s.recall.toFixed(3)}  ${s.f1.toFixed(3)}`;
}

/** `tidemark eval rca`: batch root-cause localisation and scoring (dispatched by `tidemark eval`). */
export const evalRcaCommand: Command = {
  name: 'eval rca',
  summary: 'Localise multi-dimensional root causes for a folder of cases and score them',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        data: { type: 'string' },
        out: { type: 'string' },
        'max-layer': { type: 'string' },
        counts: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    });
    if (!values.data) throw new TidemarkError('TM_ERR_USAGE', 'missing --data DIR (a folder of <setting>/<timestamp>.csv.gz cases)', '--data');
    if (!values.out) throw new TidemarkError('TM_ERR_USAGE', 'missing --out FILE (where to write the JSON lines)', '--out');
    let maxLayer: number | undefined;
    if (values['max-layer'] !== undefined) {
      maxLayer = Number(values['max-layer']);
      if (!Number.isInteger(maxLayer) || maxLayer < 1) {
        throw new TidemarkError('TM_ERR_USAGE', `must be an integer >= 1, got '${values['max-layer']}'`, '--max-layer');
      }
    }
    const { cases, truthFiles } = listCases(values.data);
    const truth = new Map<string, Map<string, string[][]>>();
    for (const [setting, path] of truthFiles) truth.set(setting, readTruth(path));

    const lines: string[] = [];
    const perSetting = new Map<string, { counts: RcaCounts; cases: number }>();
    // Wall time is what a user waits; CPU time is what one core spends, and stays honest when
    // other processes share the machine.
    let locSeconds = 0;
    let locCpu = 0;
    const wall0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    for (const c of cases) {
      const raw = readFileSync(c.path);
      const text = c.path.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
      const table = parseLeafCsv(text, c.path);
      const t0 = process.hrtime.bigint();
      const cpuBefore = process.cpuUsage();
      const result = localize(table, { maxLayer, counts: values.counts });
      const spent = process.cpuUsage(cpuBefore);
      locSeconds += Number(process.hrtime.bigint() - t0) / 1e9;
      locCpu += (spent.user + spent.system) / 1e6;
      const predicted = result.elements.map((e) => e.pairs.map((p) => `${p.dimension}=${p.value}`));
      lines.push(JSON.stringify({ case: `${c.setting}/${c.id}`, root_causes: predicted }));
      const t = truth.get(c.setting);
      if (!t) continue;
      const expected = t.get(c.id);
      if (!expected) {
        process.stderr.write(`tidemark eval rca: ${c.setting}/${c.id} has no row in injection_info.csv; not scored\n`);
        continue;
      }
      let s = perSetting.get(c.setting);
      if (!s) perSetting.set(c.setting, (s = { counts: { tp: 0, fp: 0, fn: 0 }, cases: 0 }));
      s.cases++;
      addCounts(s.counts, scoreCase(predicted, expected));
    }
    const wallSeconds = Number(process.hrtime.bigint() - wall0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    try {
      writeFileSync(values.out, lines.join('\n') + '\n');
    } catch (err) {
      throw new TidemarkError('TM_ERR_USAGE', `cannot write --out file: ${(err as Error).message}`, '--out');
    }

    const n = cases.length;
    const out: string[] = [`${n} cases -> ${values.out}`];
    let overall: RcaScore | undefined;
    if (perSetting.size > 0) {
      const width = Math.max(7, ...[...perSetting.keys()].map((k) => k.length));
      out.push(`${'setting'.padEnd(width)}  cases   TP   FP   FN  prec.  recall  F1`);
      const total: RcaCounts = { tp: 0, fp: 0, fn: 0 };
      let scored = 0;
      for (const [setting, s] of perSetting) {
        out.push(`${setting.padEnd(width)}  ${String(s.cases).padStart(5)} ${fmt(rcaScore(s.counts))}`);
        addCounts(total, s.counts);
        scored += s.cases;
      }
      overall = rcaScore(total);
      out.push(`${'overall'.padEnd(width)}  ${String(scored).padStart(5)} ${fmt(overall)}  (micro)`);
    }
    out.push(
      `seconds per case: ${(locSeconds / n).toFixed(4)} localisation (${(locCpu / n).toFixed(4)} CPU), ` +
        `${(wallSeconds / n).toFixed(4)} total incl. reading (${(cpuSeconds / n).toFixed(4)} CPU)`,
    );
    if (values.json) {
      out.push(
        'RCA ' +
          JSON.stringify({
            micro_f1: overall?.f1 ?? null,
            precision: overall?.precision ?? null,
            recall: overall?.recall ?? null,
            seconds_per_case: locSeconds / n,
            seconds_per_case_total: wallSeconds / n,
            cpu_seconds_per_case: locCpu / n,
            cpu_seconds_per_case_total: cpuSeconds / n,
          }),
      );
    }
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  },
};
