/**
 * The bus message of one partition: a tenant's accepted samples of the series that hash to it,
 * columnar. Ingest nodes encode after decoding and validating a request; workers decode into an
 * IngestBatch and hand it to the engine as if the request had arrived there.
 *
 * Layout (little endian): u8 version, u8 mode (0 live, 1 replay), str tenant, u32 series,
 * per series { str metric, u8 kind, u16 label pairs, str name, str value, ... }, u32 samples,
 * per sample { u32 series row, f64 t, f64 value, u8 flags }. `str` is u32 length + UTF-8.
 * Version 2 is a rule-aggregate feed (feeds.ts): a worker of this build reads both, and one of
 * an older build skips version 2 messages as unknown (logged), leaving aggregates unfed.
 */
import type { IngestMode } from '../engine/index.ts';
import { TidemarkError } from '../errors.ts';
import { IngestBatch, STALE_FLAG, type SeriesKind } from '../ingest/index.ts';
import { partitionOf } from '../bus/index.ts';

const VERSION = 1;
const KINDS: readonly SeriesKind[] = ['gauge', 'counter', 'delta', 'unknown'];
const SAMPLE_BYTES = 4 + 8 + 8 + 1;

/** What the encoder reads of a decoded batch. */
export type BatchSource = Pick<IngestBatch, 'length' | 'seriesCount' | 'seriesIds' | 'timestamps' | 'values' | 'flags' | 'seriesKey' | 'seriesMetric' | 'seriesLabels' | 'seriesKind'>;

const te = new TextEncoder();
const td = new TextDecoder();

/** Per partition: the encoded message and how many samples it carries. */
export interface PartitionPart {
  readonly partition: number;
  readonly data: Uint8Array;
  readonly samples: number;
}

/**
 * Splits a batch by the partition of each series and encodes one message per partition that has
 * samples. Reads the batch only before it returns (the caller may reset it at once).
 */
export function encodeByPartition(tenant: string, b: BatchSource, mode: IngestMode, partitions: number): PartitionPart[] {
  const rows = b.seriesCount;
  const partOf = new Int32Array(rows);
  // Per partition: the series rows it holds, renumbered, and its sample count.
  const rowMap = new Int32Array(rows);
  const seriesOf = new Map<number, number[]>();
  for (let s = 0; s < rows; s++) {
    const p = partitionOf(b.seriesKey(s), partitions);
    partOf[s] = p;
    let list = seriesOf.get(p);
    if (!list) seriesOf.set(p, (list = []));
    rowMap[s] = list.length;
    list.push(s);
  }
  const counts = new Map<number, number>();
  const sids = b.seriesIds;
  for (let i = 0; i < b.length; i++) counts.set(partOf[sids[i]], (counts.get(partOf[sids[i]]) ?? 0) + 1);
  const tenantBytes = te.encode(tenant);
  const out: PartitionPart[] = [];
  for (const [p, n] of counts) {
    const list = seriesOf.get(p)!;
    const head: Uint8Array[] = [];
    let size = 2 + 4 + tenantBytes.length + 4 + 4 + n * SAMPLE_BYTES;
    for (const s of list) {
      const m = te.encode(b.seriesMetric(s));
      head.push(m);
      size += 4 + m.length + 1 + 2;
      const labels = b.seriesLabels(s);
      for (const l of labels) {
        const x = te.encode(l);
        head.push(x);
        size += 4 + x.length;
      }
    }
    const buf = new Uint8Array(size);
    const dv = new DataView(buf.buffer);
    let o = 0;
    buf[o++] = VERSION;
    buf[o++] = mode === 'replay' ? 1 : 0;
    const str = (x: Uint8Array) => {
      dv.setUint32(o, x.length, true);
      buf.set(x, o + 4);
      o += 4 + x.length;
    };
    str(tenantBytes);
    dv.setUint32(o, list.length, true);
    o += 4;
    let h = 0;
    for (const s of list) {
      str(head[h++]);
      buf[o++] = Math.max(0, KINDS.indexOf(b.seriesKind(s)));
      const pairs = b.seriesLabels(s).length;
      dv.setUint16(o, pairs / 2, true);
      o += 2;
      for (let j = 0; j < pairs; j++) str(head[h++]);
    }
    dv.setUint32(o, n, true);
    o += 4;
    const t = b.timestamps;
    const v = b.values;
    const f = b.flags;
    for (let i = 0; i < b.length; i++) {
      const s = sids[i];
      if (partOf[s] !== p) continue;
      dv.setUint32(o, rowMap[s], true);
      dv.setFloat64(o + 4, t[i], true);
      dv.setFloat64(o + 12, v[i], true);
      buf[o + 20] = f[i];
      o += SAMPLE_BYTES;
    }
    out.push({ partition: p, data: buf, samples: n });
  }
  return out;
}

/** Message kinds by their first byte: a batch's samples (above), or a rule-aggregate feed (feeds.ts). */
export type MessageKind = 'samples' | 'feed';
const FEED = 2;

/**
 * The kind, tenant and mode of a message without decoding its samples (undefined: malformed or
 * of a version this build does not know). Both kinds start with u8 version, u8 mode, str tenant.
 */
export function peekHeader(data: Uint8Array): { kind: MessageKind; tenant: string; mode: IngestMode } | undefined {
  if (data.length < 6 || (data[0] !== VERSION && data[0] !== FEED)) return undefined;
  const len = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(2, true);
  if (6 + len > data.length) return undefined;
  return { kind: data[0] === FEED ? 'feed' : 'samples', tenant: td.decode(data.subarray(6, 6 + len)), mode: data[1] === 1 ? 'replay' : 'live' };
}

/**
 * Decodes a partition message into `batch` (reset first unless `append`, which lets a worker
 * apply several messages of one tenant as one batch). Returns the tenant and mode. A malformed
 * message throws TM_ERR_INPUT (it was not written by Tidemark).
 */
export function decodeInto(data: Uint8Array, batch: IngestBatch, append = false): { tenant: string; mode: IngestMode } {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let o = 0;
  const need = (k: number) => {
    if (o + k > data.length) throw new TidemarkError('TM_ERR_INPUT', `truncated bus message (${data.length} bytes)`, 'message');
  };
  const str = () => {
    need(4);
    const len = dv.getUint32(o, true);
    need(4 + len);
    const s = td.decode(data.subarray(o + 4, o + 4 + len));
    o += 4 + len;
    return s;
  };
  need(2);
  if (data[0] !== VERSION) throw new TidemarkError('TM_ERR_INPUT', `unknown bus message version ${data[0]}`, 'message');
  const mode: IngestMode = data[1] === 1 ? 'replay' : 'live';
  o = 2;
  const tenant = str();
  need(4);
  const rows = dv.getUint32(o, true);
  o += 4;
  if (!append) batch.reset();
  const ids = new Int32Array(rows);
  const labels: string[] = [];
  for (let s = 0; s < rows; s++) {
    const metric = str();
    need(3);
    const kind = KINDS[data[o]] ?? 'unknown';
    const pairs = dv.getUint16(o + 1, true);
    o += 3;
    labels.length = 0;
    for (let j = 0; j < pairs * 2; j++) labels.push(str());
    ids[s] = batch.openSeries(metric, labels, labels.length, kind, 0);
  }
  need(4);
  const n = dv.getUint32(o, true);
  o += 4;
  need(n * SAMPLE_BYTES);
  for (let i = 0; i < n; i++) {
    const row = dv.getUint32(o, true);
    const t = dv.getFloat64(o + 4, true);
    const flags = data[o + 20];
    o += SAMPLE_BYTES;
    const id = row < rows ? ids[row] : -1;
    if (id < 0) continue;
    if ((flags & STALE_FLAG) !== 0) batch.addStale(id, t);
    else batch.addSample(id, t, dv.getFloat64(o - SAMPLE_BYTES + 12, true));
  }
  return { tenant, mode };
}
