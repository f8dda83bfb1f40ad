/**
 * Rule aggregates in a cluster. One process folds every raw point of a rule into one aggregator
 * whose watermark is the rule's newest sample time. In a cluster a rule's series hash to many
 * partitions, so no series owner sees a whole group. Instead each aggregate group (tenant, rule,
 * group_by values) is a unit with a partition of its own (`unitPartition`): the ingest node, which
 * holds the tenant config, publishes beside the batch a feed message per unit partition with
 * the points of the series that feed units there, and the worker owning that partition runs
 * only the aggregation stage on it (Engine.judgeAggregates), while series owners skip it
 * (Engine.feedAggregates false).
 *
 * Same results as one process: feed records are written in the order the engine's pass would
 * visit them, and each carries the rule's watermark at that point of the pass (over the whole
 * batch and the node's earlier batches), so a group closes its windows where one process would,
 * though it sees only its own points. The receiving worker applies the checks the engine's pass
 * makes before feeding (valid range, out-of-order tolerance against the series' newest point).
 *
 * Config versions: a record names its rule; the worker applies it under its own config. When a
 * feed comes from a newer config version than the worker holds, the worker first reloads configs
 * from the store (see worker.ts). Records for a rule the worker's config lacks are dropped, as are
 * records whose group now lives on another partition (a node routing under an older config);
 * that is the price of a config change in flight: at most the points routed before the ingest
 * node heard of the new version.
 *
 * Multivariate detectors the same way: each entity (tenant, detector, join-label values) is a
 * unit with a partition (`entityPartition`); the ingest node sends every point of its member
 * series there. The forest needs each point's fused score from its series' own detectors, which
 * live with the series' owner, so the entity's owner runs a shadow of those detectors for its
 * member series (`MultivariateFeeds`): same config, same points in the same order, so the same
 * verdicts. That doubles the detector work of member series (a few per entity), the price of
 * keeping the stage in one place without a second hop through the bus.
 *
 * Feed layout (little endian): u8 2, u8 mode, str tenant, u32 config version (0: none),
 * u16 units, per unit { u8 kind (0 rule aggregate, 1 multivariate), str name }, u32 series,
 * series as in codec.ts, u32 records, per record { u16 unit, u32 series row, f64 t, f64 value,
 * f64 watermark (aggregates; 0 otherwise) }. A multivariate record (unit name '') feeds every
 * entity of its series on the message's partition.
 */
import { partitionOf } from '../bus/index.ts';
import { compileSelector, inMaintenance, type MultivariateDetector, type Rule, type TenantConfig } from '../config/index.ts';
import { newFusedVerdict, restoreState, snapshotState } from '../detect/index.ts';
import { groupKeyOf, type RuleAggregator } from '../engine/aggregate.ts';
import type { CompiledRule } from '../engine/tenant.ts';
import type { IngestMode } from '../engine/index.ts';
import { TidemarkError } from '../errors.ts';
import { STALE_FLAG } from '../ingest/index.ts';
import { seriesKey } from '../ingest/names.ts';
import type { Labels } from '../store/index.ts';
import type { BatchSource, PartitionPart } from './codec.ts';

export const FEED_VERSION = 2;
const KINDS = ['gauge', 'counter', 'delta', 'unknown'] as const;
const RECORD_BYTES = 2 + 4 + 8 + 8 + 8;

const te = new TextEncoder();
const td = new TextDecoder();

/** The partition of an aggregate group: every node and worker computes the same. */
export function unitPartition(tenant: string, rule: string, groupKey: string, partitions: number): number {
  return partitionOf(`\u0001${tenant}\u0000${rule}\u0000${groupKey}`, partitions);
}

/** The partition of a multivariate entity (its key as multivariate.ts writes it: `service=checkout`). */
export function entityPartition(tenant: string, detector: string, entityKey: string, partitions: number): number {
  return partitionOf(`\u0002${tenant}\u0000${detector}\u0000${entityKey}`, partitions);
}

/** The entity keys a series feeds per detector (as multivariate.ts binds it): none without the join labels. */
export function entitiesOf(dets: readonly CompiledDetector[], metric: string, labels: Labels): { detector: string; key: string }[] {
  const out: { detector: string; key: string }[] = [];
  for (const d of dets) {
    if (!d.features.some((f) => f(metric, labels))) continue;
    let complete = true;
    for (const l of d.def.joinOn) if (labels[l] === undefined || labels[l] === '') complete = false;
    if (complete) out.push({ detector: d.def.name, key: d.def.joinOn.map((l) => `${l}=${labels[l]}`).join(',') });
  }
  return out;
}

interface CompiledDetector {
  readonly def: MultivariateDetector;
  readonly features: readonly ((metric: string, labels: Labels) => boolean)[];
}

const compiledDets = new WeakMap<TenantConfig, CompiledDetector[]>();

function detectorsOf(config: TenantConfig): CompiledDetector[] {
  let out = compiledDets.get(config);
  if (out === undefined) compiledDets.set(config, (out = (config.multivariate ?? []).map((def) => ({ def, features: def.features.map((f) => compileSelector(f.selector)) }))));
  return out;
}

/** The config an ingest node routes a tenant's batches by. */
export interface FeedConfig {
  readonly config: TenantConfig | undefined;
  readonly version: number | null;
}

interface AggregateRule {
  readonly rule: Rule;
  readonly num: (metric: string, labels: Labels) => boolean;
  readonly den: ((metric: string, labels: Labels) => boolean) | undefined;
}

const compiled = new WeakMap<TenantConfig, AggregateRule[]>();

/** The rules that aggregate (as tenant.ts picks them), with compiled selectors, once per config. */
function aggregateRules(config: TenantConfig): AggregateRule[] {
  let out = compiled.get(config);
  if (out === undefined) {
    out = config.rules
      .filter((r) => r.detectOn !== undefined && r.shadow !== true)
      .map((rule) => ({ rule, num: compileSelector(rule.selector), den: rule.denominator ? compileSelector(rule.denominator) : undefined }));
    compiled.set(config, out);
  }
  return out;
}

/** `h_p99` -> `h`, as tenant.ts resolves the schema of series derived from a histogram. */
function histogramBase(metric: string): string {
  const m = /^(.*)_(count|sum|bucket|p50|p95|p99)$/.exec(metric);
  return m ? m[1] : metric;
}

/** False when the engine would refuse the series by the metric contract (undeclared metric, label not allowed). */
function admitted(config: TenantConfig, metric: string, labels: Labels): boolean {
  if (config.metrics.length === 0) return true;
  const schema = config.metrics.find((m) => m.name === metric) ?? config.metrics.find((m) => m.name === histogramBase(metric));
  if (schema === undefined) return false;
  for (const name of Object.keys(labels)) if (schema.denyLabels.includes(name) || !schema.labels.includes(name)) return false;
  return true;
}

/**
 * The feed messages of a batch, one per partition holding a unit the batch feeds. `marks` keeps
 * the node's watermark per tenant and rule across batches (the caller's, one per node). Reads
 * the batch only before it returns.
 */
export function encodeFeeds(tenant: string, b: BatchSource, mode: IngestMode, partitions: number, cfg: FeedConfig, marks: Map<string, number>): PartitionPart[] {
  const config = cfg.config;
  if (config === undefined) return [];
  const rules = aggregateRules(config);
  const dets = detectorsOf(config);
  if (rules.length === 0 && dets.length === 0) return [];
  // Unit r < rules.length: that rule; unit rules.length: multivariate (every entity on the partition).
  const MV = rules.length;
  const rows = b.seriesCount;
  // Per series row: the (unit, partition) pairs it feeds, flat; null when none.
  const units = new Array<number[] | null>(rows).fill(null);
  // Records per partition: unit, row, t, v, watermark, in the engine's visiting order.
  const recs = new Map<number, number[]>();
  // Per series row, beside `units`: the record list of each pair's partition (no lookup per sample).
  const outs = new Array<number[][] | null>(rows).fill(null);
  const min = new Float64Array(rows);
  const max = new Float64Array(rows);
  let any = false;
  for (let s = 0; s < rows; s++) {
    const metric = b.seriesMetric(s);
    const flat = b.seriesLabels(s);
    const labels: Record<string, string> = {};
    for (let j = 0; j < flat.length; j += 2) labels[flat[j]] = flat[j + 1];
    let list: number[] | null = null;
    for (let r = 0; r < rules.length; r++) {
      const c = rules[r];
      if (!c.num(metric, labels) && !c.den?.(metric, labels)) continue;
      (list ??= []).push(r, unitPartition(tenant, c.rule.name, groupKeyOf(c.rule.groupBy, labels), partitions));
    }
    const parts = new Set(entitiesOf(dets, metric, labels).map((x) => entityPartition(tenant, x.detector, x.key, partitions)));
    for (const p of parts) (list ??= []).push(MV, p);
    if (list === null || !admitted(config, metric, labels)) continue;
    units[s] = list;
    const o: number[][] = [];
    for (let k = 1; k < list.length; k += 2) {
      let out = recs.get(list[k]);
      if (!out) recs.set(list[k], (out = []));
      o.push(out);
    }
    outs[s] = o;
    any = true;
    const schema = config.metrics.find((m) => m.name === metric);
    min[s] = schema?.min ?? -Infinity;
    max[s] = schema?.max ?? Infinity;
  }
  if (!any) return [];
  const wm = rules.map((c) => marks.get(`${tenant}\u0000${c.rule.name}`) ?? -Infinity);
  const sids = b.seriesIds;
  const times = b.timestamps;
  const values = b.values;
  const flags = b.flags;
  const order = visitOrder(b);
  for (let j = 0; j < b.length; j++) {
    const i = order === null ? j : order[j];
    const s = sids[i];
    const list = units[s];
    if (list === null || (flags[i] & STALE_FLAG) !== 0) continue;
    const t = times[i];
    const v = values[i];
    if (v < min[s] || v > max[s]) continue; // refused as out of range: one process feeds nothing either
    const o = outs[s]!;
    for (let k = 0; k < list.length; k += 2) {
      const r = list[k];
      if (r !== MV && t > wm[r]) wm[r] = t;
      o[k >> 1].push(r, s, t, v, r === MV ? 0 : wm[r]);
    }
  }
  rules.forEach((c, r) => {
    if (wm[r] > -Infinity) marks.set(`${tenant}\u0000${c.rule.name}`, wm[r]);
  });
  const tenantBytes = te.encode(tenant);
  const ruleBytes = rules.map((c) => te.encode(c.rule.name));
  ruleBytes.push(new Uint8Array(0)); // the multivariate unit
  const out: PartitionPart[] = [];
  for (const [p, rec] of recs) {
    const n = rec.length / 5;
    if (n === 0) continue;
    // The series of this partition's records, renumbered in row order.
    const rowMap = new Map<number, number>();
    for (let k = 1; k < rec.length; k += 5) if (!rowMap.has(rec[k])) rowMap.set(rec[k], 0);
    const list = [...rowMap.keys()].sort((x, y) => x - y);
    list.forEach((s, i) => rowMap.set(s, i));
    const head: Uint8Array[] = [];
    let size = 2 + 4 + tenantBytes.length + 4 + 2 + 4 + 4 + n * RECORD_BYTES;
    for (const x of ruleBytes) size += 1 + 4 + x.length;
    for (const s of list) {
      const m = te.encode(b.seriesMetric(s));
      head.push(m);
      size += 4 + m.length + 1 + 2;
      for (const l of b.seriesLabels(s)) {
        const x = te.encode(l);
        head.push(x);
        size += 4 + x.length;
      }
    }
    const buf = new Uint8Array(size);
    const dv = new DataView(buf.buffer);
    let o = 0;
    const str = (x: Uint8Array) => {
      dv.setUint32(o, x.length, true);
      buf.set(x, o + 4);
      o += 4 + x.length;
    };
    buf[o++] = FEED_VERSION;
    buf[o++] = mode === 'replay' ? 1 : 0;
    str(tenantBytes);
    dv.setUint32(o, cfg.version ?? 0, true);
    o += 4;
    dv.setUint16(o, ruleBytes.length, true);
    o += 2;
    ruleBytes.forEach((x, r) => {
      buf[o++] = r === MV ? 1 : 0;
      str(x);
    });
    dv.setUint32(o, list.length, true);
    o += 4;
    let h = 0;
    for (const s of list) {
      str(head[h++]);
      buf[o++] = Math.max(0, KINDS.indexOf(b.seriesKind(s) as (typeof KINDS)[number]));
      const pairs = b.seriesLabels(s).length;
      dv.setUint16(o, pairs / 2, true);
      o += 2;
      for (let j = 0; j < pairs; j++) str(head[h++]);
    }
    dv.setUint32(o, n, true);
    o += 4;
    for (let k = 0; k < rec.length; k += 5) {
      dv.setUint16(o, rec[k], true);
      dv.setUint32(o + 2, rowMap.get(rec[k + 1])!, true);
      dv.setFloat64(o + 6, rec[k + 2], true);
      dv.setFloat64(o + 14, rec[k + 3], true);
      dv.setFloat64(o + 22, rec[k + 4], true);
      o += RECORD_BYTES;
    }
    out.push({ partition: p, data: buf, samples: n });
  }
  return out;
}

/**
 * The order the engine's pass visits a batch's samples (engine.ts timeOrder): as given (null)
 * when every series is ascending, else by series row, then time, then position.
 */
function visitOrder(b: BatchSource): Int32Array | null {
  const n = b.length;
  const sids = b.seriesIds;
  const times = b.timestamps;
  const last = new Float64Array(b.seriesCount).fill(-Infinity);
  let sorted = true;
  for (let i = 0; i < n && sorted; i++) {
    if (times[i] < last[sids[i]]) sorted = false;
    else last[sids[i]] = times[i];
  }
  if (sorted) return null;
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, c) => sids[a] - sids[c] || times[a] - times[c] || a - c);
  return Int32Array.from(idx);
}

/** A decoded feed message. */
export interface Feed {
  readonly tenant: string;
  readonly mode: IngestMode;
  /** The config version the ingest node routed it by (null: none). */
  readonly configVersion: number | null;
  /** Per unit: its kind (0 rule aggregate, 1 multivariate) and name (the rule's). */
  readonly kinds: Uint8Array;
  readonly rules: readonly string[];
  readonly series: readonly { readonly key: string; readonly metric: string; readonly labels: Labels }[];
  readonly rule: Uint16Array;
  readonly row: Uint32Array;
  readonly t: Float64Array;
  readonly v: Float64Array;
  readonly wm: Float64Array;
}

/** Decodes a feed message; a malformed one throws TM_ERR_INPUT. */
export function decodeFeed(data: Uint8Array): Feed {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let o = 0;
  const need = (k: number) => {
    if (o + k > data.length) throw new TidemarkError('TM_ERR_INPUT', `truncated feed message (${data.length} bytes)`, 'message');
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
  if (data[0] !== FEED_VERSION) throw new TidemarkError('TM_ERR_INPUT', `not a feed message (version ${data[0]})`, 'message');
  const mode: IngestMode = data[1] === 1 ? 'replay' : 'live';
  o = 2;
  const tenant = str();
  need(6);
  const version = dv.getUint32(o, true);
  const nRules = dv.getUint16(o + 4, true);
  o += 6;
  const rules: string[] = [];
  const kinds = new Uint8Array(nRules);
  for (let r = 0; r < nRules; r++) {
    need(1);
    kinds[r] = data[o++];
    rules.push(str());
  }
  need(4);
  const rows = dv.getUint32(o, true);
  o += 4;
  const series: { key: string; metric: string; labels: Labels }[] = [];
  const flat: string[] = [];
  for (let s = 0; s < rows; s++) {
    const metric = str();
    need(3);
    const pairs = dv.getUint16(o + 1, true);
    o += 3;
    flat.length = 0;
    const labels: Record<string, string> = {};
    for (let j = 0; j < pairs; j++) {
      const k = str();
      const v = str();
      flat.push(k, v);
      labels[k] = v;
    }
    series.push({ key: seriesKey(metric, flat, flat.length), metric, labels: Object.freeze(labels) });
  }
  need(4);
  const n = dv.getUint32(o, true);
  o += 4;
  need(n * RECORD_BYTES);
  const rule = new Uint16Array(n);
  const row = new Uint32Array(n);
  const t = new Float64Array(n);
  const v = new Float64Array(n);
  const wm = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    rule[i] = dv.getUint16(o, true);
    row[i] = dv.getUint32(o + 2, true);
    t[i] = dv.getFloat64(o + 6, true);
    v[i] = dv.getFloat64(o + 14, true);
    wm[i] = dv.getFloat64(o + 22, true);
    if (rule[i] >= nRules || row[i] >= rows) throw new TidemarkError('TM_ERR_INPUT', `feed record ${i} names rule ${rule[i]} or series ${row[i]}, which the message does not hold`, 'message');
    o += RECORD_BYTES;
  }
  return { tenant, mode, configVersion: version === 0 ? null : version, kinds, rules, series, rule, row, t, v, wm };
}

/** What applying a feed reads of the tenant (Engine.aggregation). */
export interface FeedTarget {
  readonly aggregators: readonly RuleAggregator[];
  readonly toleranceMs: number;
  range(metric: string): { min?: number; max?: number } | undefined;
}

/**
 * Folds a feed's records into the aggregators of the groups that live on `partition`, with the
 * checks the engine's pass makes before it feeds a point. Returns the records applied.
 */
export function applyFeed(f: Feed, target: FeedTarget, partition: number, partitions: number): number {
  const byName = new Map(target.aggregators.map((a) => [a.rule.name, a]));
  const aggs = f.rules.map((r, i) => (f.kinds[i] === 0 ? byName.get(r) : undefined));
  const live = f.mode === 'live';
  const tol = target.toleranceMs;
  let applied = 0;
  for (let i = 0; i < f.t.length; i++) {
    const agg = aggs[f.rule[i]];
    if (agg === undefined) continue; // the rule is gone (or not an aggregate) in this worker's config
    const s = f.series[f.row[i]];
    let inp = agg.inputs.get(s.key);
    if (inp === undefined) {
      if (unitPartition(f.tenant, agg.rule.name, groupKeyOf(agg.rule.groupBy, s.labels), partitions) !== partition) continue;
      agg.inputs.set(s.key, (inp = { feeds: agg.feedsFor(s.metric, s.labels), lastT: -Infinity }));
    }
    if (inp.feeds.length === 0) continue;
    const t = f.t[i];
    const v = f.v[i];
    const r = target.range(s.metric);
    if (r !== undefined && (v < (r.min ?? -Infinity) || v > (r.max ?? Infinity))) continue;
    if (t <= inp.lastT) {
      if (live && t < inp.lastT - tol) continue; // too old: the series' owner refuses it too
    } else inp.lastT = t;
    for (const fd of inp.feeds) agg.add(fd, t, v, f.wm[i]);
    applied++;
  }
  return applied;
}

/** A shadow of one member series' detectors, kept by the owner of its entities' partition. */
interface Shadow {
  readonly metric: string;
  readonly labels: Labels;
  rule: CompiledRule;
  /** The detector set's entries as JSON: a config with other detectors starts the shadow afresh. */
  entries: string;
  state: unknown;
  lastT: number;
  held: unknown[] | null;
}

/** What feeding multivariate entities reads of the worker's engine. */
export interface MultivariateTarget {
  readonly config: TenantConfig | undefined;
  seriesRule(metric: string, labels: Labels): CompiledRule;
  range(metric: string): { min?: number; max?: number } | undefined;
  /** Hands a judged live point to the multivariate stage, for the entities `accept` selects. */
  observe(metric: string, labels: Labels, t: number, v: number, score: number, accept: (detector: string, entityKey: string) => boolean): void;
}

export interface ShadowState {
  key: string;
  metric: string;
  labels: Record<string, string>;
  entries: string;
  lastT: number;
  state: unknown;
  held: unknown[] | null;
}

/**
 * The multivariate side of a worker's feeds: per partition and tenant, the shadows of the
 * member series of the entities the partition owns. Judges each point as the series' owner
 * does (engine.ts `#apply`: range, newer than the last point, aggregate-only rules and
 * learning-free maintenance windows judge nothing) and hands judged live points on.
 */
export class MultivariateFeeds {
  readonly #shadows = new Map<number, Map<string, Map<string, Shadow>>>();
  readonly #verdict = newFusedVerdict();

  #of(partition: number, tenant: string): Map<string, Shadow> {
    let byTenant = this.#shadows.get(partition);
    if (!byTenant) this.#shadows.set(partition, (byTenant = new Map()));
    let m = byTenant.get(tenant);
    if (!m) byTenant.set(tenant, (m = new Map()));
    return m;
  }

  /** Applies a feed's multivariate records; returns how many were judged. */
  apply(f: Feed, target: MultivariateTarget, partition: number, partitions: number): number {
    const config = target.config;
    if (!config?.multivariate?.length) return 0;
    const dets = detectorsOf(config);
    const shadows = this.#of(partition, f.tenant);
    const accept = (detector: string, key: string) => entityPartition(f.tenant, detector, key, partitions) === partition;
    const live = f.mode === 'live';
    const out = this.#verdict;
    let judged = 0;
    for (let i = 0; i < f.t.length; i++) {
      if (f.kinds[f.rule[i]] !== 1) continue;
      const s = f.series[f.row[i]];
      let sh = shadows.get(s.key);
      const rule = target.seriesRule(s.metric, s.labels);
      if (sh === undefined) {
        if (!entitiesOf(dets, s.metric, s.labels).some((x) => accept(x.detector, x.key))) continue;
        shadows.set(s.key, (sh = { metric: s.metric, labels: s.labels, rule, entries: JSON.stringify(rule.set.entries), state: rule.set.init(), lastT: -Infinity, held: null }));
      } else if (sh.rule !== rule) {
        // A new config: a new threshold keeps the learned state, a new detector set learns again (tenant.ts applyConfig).
        const entries = JSON.stringify(rule.set.entries);
        if (entries !== sh.entries) Object.assign(sh, { entries, state: rule.set.init(), lastT: -Infinity, held: null });
        sh.rule = rule;
      }
      const t = f.t[i];
      const v = f.v[i];
      const r = target.range(s.metric);
      if (r !== undefined && (v < (r.min ?? -Infinity) || v > (r.max ?? Infinity))) continue;
      if (t <= sh.lastT) continue; // stored by the owner, judged by nobody
      sh.lastT = t;
      if (!rule.judgeSeries) continue;
      if (rule.noLearning.length > 0 && inMaintenance(rule.noLearning, t) !== undefined) {
        hold(sh);
        rule.set.update(sh.state, t, v, out);
        continue;
      }
      resume(sh);
      const verdict = rule.set.update(sh.state, t, v, out);
      judged++;
      if (live) target.observe(s.metric, s.labels, t, v, verdict.learning ? 0 : verdict.score, accept);
    }
    return judged;
  }

  /** A partition's shadows of a tenant as plain data (read before the next feed is applied). */
  snapshot(partition: number, tenant: string): ShadowState[] {
    const out: ShadowState[] = [];
    for (const [key, sh] of this.#shadows.get(partition)?.get(tenant) ?? []) {
      out.push({ key, metric: sh.metric, labels: { ...sh.labels }, entries: sh.entries, lastT: sh.lastT, state: sh.state, held: sh.held });
    }
    return out;
  }

  /** Puts back a partition's shadows; those of another detector set than the series' rule now has are dropped. */
  restore(partition: number, tenant: string, states: readonly ShadowState[], seriesRule: (metric: string, labels: Labels) => CompiledRule): void {
    const shadows = this.#of(partition, tenant);
    for (const st of states) {
      const labels = Object.freeze({ ...st.labels });
      const rule = seriesRule(st.metric, labels);
      if (JSON.stringify(rule.set.entries) !== st.entries) continue;
      shadows.set(st.key, { metric: st.metric, labels, rule, entries: st.entries, state: st.state, lastT: st.lastT, held: st.held });
    }
  }

  /** Forgets a partition's shadows (it moved to another worker). */
  drop(partition: number): void {
    this.#shadows.delete(partition);
  }
}

/** Models' states kept aside inside a maintenance window excluded from learning (tenant.ts hold). */
function hold(sh: Shadow): void {
  if (sh.held !== null || sh.rule.models.length === 0) return;
  // A set that keeps a series' state in one region copies its models' part itself.
  const set = sh.rule.set;
  if (set.saveModels) {
    sh.held = [set.saveModels(sh.state)];
    return;
  }
  const state = sh.state as unknown[];
  sh.held = sh.rule.models.map((i) => restoreState(snapshotState(state[i])));
}

/** The first point after it: the models forget what they saw inside (tenant.ts resume). */
function resume(sh: Shadow): void {
  if (sh.held === null) return;
  const set = sh.rule.set;
  if (set.restoreModels) set.restoreModels(sh.state, sh.held[0]);
  else {
    const state = sh.state as unknown[];
    sh.rule.models.forEach((i, k) => (state[i] = sh.held![k]));
  }
  sh.held = null;
}
