/**
 * A small CSV reader for evaluation inputs (`timestamp,value[,anomaly_score]`). Fields may be
 * quoted RFC 4180 style; blank lines are skipped; a UTF-8 byte order mark is ignored.
 */
import { readFileSync } from 'node:fs';
import { TidemarkError } from '../errors.ts';

export interface CsvTable {
  readonly header: string[];
  readonly rows: string[][];
  /** The 1-based line number of each row, for error messages. */
  readonly lines: number[];
}

function splitQuoted(line: string, where: string): string[] {
  const out: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < line.length) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      out.push(field);
      field = '';
    } else {
      field += c;
    }
    i++;
  }
  if (quoted) throw new TidemarkError('TM_ERR_INPUT', 'unterminated quoted field', where);
  out.push(field);
  return out;
}

/** Parses CSV text whose first non-blank line is a header. `path` names the source in errors. */
export function parseCsv(text: string, path: string): CsvTable {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const header: string[] = [];
  const rows: string[][] = [];
  const lines: number[] = [];
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    lineNo++;
    let line = text.slice(start, end);
    start = end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') continue;
    const fields = line.includes('"') ? splitQuoted(line, `${path}:${lineNo}`) : line.split(',');
    if (header.length === 0) {
      for (const f of fields) header.push(f.trim());
    } else {
      rows.push(fields);
      lines.push(lineNo);
    }
  }
  if (header.length === 0) throw new TidemarkError('TM_ERR_INPUT', 'empty file: expected a header line', path);
  return { header, rows, lines };
}

/** Reads and parses a CSV file; a missing file is a TM_ERR_NOT_FOUND naming it. */
export function readCsvFile(path: string): CsvTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new TidemarkError('TM_ERR_NOT_FOUND', 'no such file', path);
    throw err;
  }
  return parseCsv(text, path);
}

/** The index of column `name`, or a TM_ERR_INPUT listing the columns that were found. */
export function columnIndex(table: CsvTable, name: string, path: string): number {
  let i = table.header.indexOf(name);
  // `Timestamp,Value`: spreadsheets and exporters capitalise headers (cells are trimmed already).
  if (i === -1) i = table.header.findIndex((h) => h.toLowerCase() === name);
  if (i === -1) {
    throw new TidemarkError('TM_ERR_INPUT', `missing column '${name}' (found: ${table.header.join(', ')})`, path);
  }
  return i;
}
