/**
 * The CSV backfill format: a header row naming the columns `metric`, `t` and `value`, every
 * other column a label. `t` is ms since the epoch or an RFC 3339 time. Fields may be quoted
 * ("a, b" with "" for a quote). Empty label cells mean "no such label".
 *
 *   metric,t,value,service,region
 *   http_requests_total,1700000000000,120,auth,eu
 */
import { TidemarkError } from '../errors.ts';
import type { SampleSink } from '../ingest/index.ts';

function splitRow(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let s = '';
      i++;
      while (i < line.length) {
        if (line[i] === '"' && line[i + 1] === '"') {
          s += '"';
          i += 2;
        } else if (line[i] === '"') {
          i++;
          break;
        } else s += line[i++];
      }
      out.push(s);
      i++; // the comma
    } else {
      const end = line.indexOf(',', i);
      const stop = end < 0 ? line.length : end;
      out.push(line.slice(i, stop).trim());
      i = stop + 1;
    }
  }
  return out;
}

/** Decodes CSV rows into `sink`; a bad row is rejected with its line, the others kept. */
export function decodeCsvSamples(text: string, sink: SampleSink): void {
  const lines = text.split(/\r?\n/);
  const header = splitRow(lines[0] ?? '');
  const mi = header.indexOf('metric');
  const ti = header.indexOf('t') >= 0 ? header.indexOf('t') : header.indexOf('timestamp');
  const vi = header.indexOf('value');
  if (mi < 0 || ti < 0 || vi < 0) {
    throw new TidemarkError('TM_ERR_INPUT', `the CSV header must name the columns metric, t and value (other columns are labels); got ${JSON.stringify(lines[0] ?? '')}`, 'line 1');
  }
  const labelCols = header.map((_, i) => i).filter((i) => i !== mi && i !== ti && i !== vi);
  const labels: string[] = [];
  for (let ln = 1; ln < lines.length; ln++) {
    const line = lines[ln];
    if (line.trim() === '') continue;
    sink.where('', -1, ln + 1);
    const cells = splitRow(line);
    if (cells.length !== header.length) {
      sink.reject('malformed_line', '', `expected ${header.length} columns, got ${cells.length}`);
      continue;
    }
    labels.length = 0;
    for (const c of labelCols) labels.push(header[c], cells[c]);
    const s = sink.openSeries(cells[mi], labels, labels.length, 'unknown', 1);
    if (s < 0) continue;
    const rawT = cells[ti];
    const t = /^\d+$/.test(rawT) ? Number(rawT) : Date.parse(rawT);
    if (!Number.isFinite(t)) {
      sink.reject('invalid_timestamp', 't', `${JSON.stringify(rawT)} is neither ms since the epoch nor an RFC 3339 time`);
      continue;
    }
    const v = cells[vi] === '' ? NaN : Number(cells[vi]);
    if (cells[vi] === '' || (Number.isNaN(v) && !/^nan$/i.test(cells[vi]))) {
      sink.reject('non_numeric_value', 'value', `${JSON.stringify(cells[vi])} is not a number`);
      continue;
    }
    sink.addSample(s, t, v);
  }
}
