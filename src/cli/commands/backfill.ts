import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { TidemarkError } from '../../errors.ts';
import type { Command } from '../command.ts';
import { DEFAULT_DATA_DIR, DEFAULT_LISTEN } from './serve.ts';

const help = `Usage: tidemark backfill (--file FILE | --prometheus URL --query SELECTOR --start T --end T [--step 60s])
                         [--server URL] [--token TOKEN]

Loads history into a running Tidemark through POST /api/v1/backfill, so new series start with
learned baselines. History goes through replay into detector state and the store, never into
live alerting.

Sources:
  --file FILE          a JSON batch ({"samples": [{"metric", "labels", "t", "value"}]}) or a CSV
                       file (.csv: header metric,t,value plus one column per label)
  --prometheus URL     a Prometheus server; its query_range API is read with --query, --start,
                       --end (RFC 3339 or unix seconds) and --step (default 60s)

Options:
  --server URL         the Tidemark server (default http://${DEFAULT_LISTEN})
  --token TOKEN        a write or admin token (default: $TIDEMARK_TOKEN, else ${DEFAULT_DATA_DIR}/admin-token)
  --chunk N            samples per request (default 50000)

Example:
  tidemark backfill --prometheus http://127.0.0.1:9090 --query 'up{job="api"}' --start 2024-05-01T00:00:00Z --end 2024-05-08T00:00:00Z
`;

interface Sample {
  metric: string;
  labels: Record<string, string>;
  t: number;
  value: number | string;
}

async function fetchJson(url: string, init?: RequestInit): Promise<any> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
  } catch (err) {
    throw new TidemarkError('TM_ERR_INPUT', `cannot reach ${url}: ${(err as Error).message}`, url);
  }
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = { text };
  }
  if (!res.ok) throw new TidemarkError('TM_ERR_INPUT', `${url} answered ${res.status}: ${body?.error?.message ?? body?.error ?? text.slice(0, 300)}`, url);
  return body;
}

/** Reads a Prometheus query_range answer into samples. */
export async function pullPrometheus(base: string, query: string, start: string, end: string, step: string): Promise<Sample[]> {
  const u = new URL('/api/v1/query_range', base);
  u.search = new URLSearchParams({ query, start, end, step }).toString();
  const body = await fetchJson(u.toString());
  if (body?.data?.resultType !== 'matrix') throw new TidemarkError('TM_ERR_INPUT', 'expected a matrix from query_range', '--query');
  const out: Sample[] = [];
  for (const r of body.data.result as { metric: Record<string, string>; values: [number, string][] }[]) {
    const { __name__: metric, ...labels } = r.metric;
    if (!metric) throw new TidemarkError('TM_ERR_INPUT', 'the query must select raw series (with a metric name), not an expression', '--query');
    for (const [t, v] of r.values) out.push({ metric, labels, t: Math.round(t * 1000), value: Number(v) });
  }
  return out;
}

export const backfillCommand: Command = {
  name: 'backfill',
  summary: 'Load history (JSON/CSV file or a Prometheus server) into a running Tidemark',
  help,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        file: { type: 'string' },
        prometheus: { type: 'string' },
        query: { type: 'string' },
        start: { type: 'string' },
        end: { type: 'string' },
        step: { type: 'string', default: '60s' },
        server: { type: 'string', default: `http://${DEFAULT_LISTEN}` },
        token: { type: 'string' },
        chunk: { type: 'string', default: '50000' },
      },
      strict: true,
    });
    if (!values.file === !values.prometheus) throw new TidemarkError('TM_ERR_USAGE', 'give exactly one source: --file FILE or --prometheus URL', '--file');
    const chunk = Number(values.chunk);
    if (!Number.isSafeInteger(chunk) || chunk < 1) throw new TidemarkError('TM_ERR_USAGE', `expected a positive integer, got ${JSON.stringify(values.chunk)}`, '--chunk');
    const tokenFile = join(DEFAULT_DATA_DIR, 'admin-token');
    const token = values.token ?? process.env.TIDEMARK_TOKEN ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined);
    if (!token) throw new TidemarkError('TM_ERR_USAGE', `no token: pass --token, set TIDEMARK_TOKEN, or run from the directory holding ${tokenFile}`, '--token');
    const post = (type: string, body: string) =>
      fetchJson(new URL('/api/v1/backfill', values.server).toString(), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body });

    let accepted = 0;
    let rejected = 0;
    const tally = (r: any) => {
      accepted += r.accepted ?? 0;
      rejected += r.rejected ?? 0;
      for (const x of r.rejections ?? []) process.stderr.write(`tidemark backfill: ${x.count} rejected (${x.reason}), e.g. ${x.examples?.[0]?.field}: ${x.examples?.[0]?.problem}\n`);
    };
    if (values.file) {
      if (!existsSync(values.file)) throw new TidemarkError('TM_ERR_NOT_FOUND', 'no such file', values.file);
      const text = readFileSync(values.file, 'utf8');
      // Files go up whole: the server checks them row by row and answers with every rejection.
      tally(await post(values.file.endsWith('.csv') ? 'text/csv' : 'application/json', text));
    } else {
      for (const k of ['query', 'start', 'end'] as const) if (!values[k]) throw new TidemarkError('TM_ERR_USAGE', `--prometheus needs --${k}`, `--${k}`);
      const samples = await pullPrometheus(values.prometheus!, values.query!, values.start!, values.end!, values.step!);
      for (let i = 0; i < samples.length; i += chunk) tally(await post('application/json', JSON.stringify({ samples: samples.slice(i, i + chunk) })));
    }
    process.stdout.write(`tidemark backfill: ${accepted} samples accepted, ${rejected} rejected\n`);
    return accepted > 0 || rejected === 0 ? 0 : 1;
  },
};
