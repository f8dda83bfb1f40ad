/**
 * Shadow mode: rules with `shadow: true` run log-only beside the live ones. The live engine
 * ignores them (its series keep their live rule); this runner mirrors every live batch's points
 * of the series a shadow rule selects into a second engine (the same code: detectors, alert
 * lifecycle, grouping, silences of its own, budgets, impact gates) over an in-memory store, whose
 * notifications go to a sink that only counts them. So a stricter or looser rule can be watched
 * for a while, its would-have-paged volume next to what live actually paged, before it goes live.
 *
 * Costs: the shadow engine keeps its own detector state and (in memory, with the default
 * retention of 48 h of raw points) the samples of the shadowed series only. Nothing runs while no
 * rule is in shadow.
 */
import { isMap, isSeq, parseDocument } from 'yaml';
import type { Dispatch } from '../alert/index.ts';
import { compileSelector, type TenantConfig } from '../config/index.ts';
import { IngestBatch, STALE_FLAG } from '../ingest/index.ts';
import { openSqliteStore, SEVERITIES, type Severity, type Store } from '../store/index.ts';
import { createEngine, type Engine, type IngestMode } from './engine.ts';

/** What one shadow rule would have done since the runner started. */
export interface ShadowRuleCounts {
  readonly rule: string;
  /** Notifications that would have paged (S2+ notify or escalation). */
  wouldPage: number;
  /** Every notification it would have sent (firing). */
  notifications: number;
}

export interface ShadowReport {
  readonly tenant: string;
  /** Clock reading when the runner started counting. */
  readonly since: number;
  /** What live sent since then: pages (S2+ notify or escalation) and notifications. */
  readonly live: { readonly pages: number; readonly notifications: number };
  readonly rules: readonly (ShadowRuleCounts & { readonly alerts: number; readonly bySeverity: Record<Severity, number> })[];
}

interface TenantShadow {
  version: number | null | undefined;
  rules: { name: string; matches: (metric: string, labels: Record<string, string>) => boolean }[];
  ready: boolean;
  readonly keys: Map<string, boolean>;
}

export class ShadowRunner {
  readonly since: number;
  readonly #live: Engine;
  readonly #tenants = new Map<string, TenantShadow>();
  readonly #counts = new Map<string, ShadowRuleCounts>();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #batch: IngestBatch;
  #engine: Promise<{ engine: Engine; store: Store }> | undefined;
  /** The shadow engine once open. */
  #opened: Engine | undefined;
  #now = 0;
  #closed = false;
  readonly #listener = (tenant: string, batch: IngestBatch, mode: IngestMode) => this.#onBatch(tenant, batch, mode);

  constructor(live: Engine) {
    this.#live = live;
    this.since = live.clock();
    this.#batch = new IngestBatch({ now: () => this.#now, maxFutureMs: 2 ** 40, seriesCacheSize: 0 });
    live.batchListeners.add(this.#listener);
  }

  /** Names of a config's shadow rules. */
  static shadowRules(config: TenantConfig | undefined): string[] {
    return (config?.rules ?? []).filter((r) => r.shadow === true).map((r) => r.name);
  }

  #tenant(id: string): TenantShadow {
    let t = this.#tenants.get(id);
    if (!t) this.#tenants.set(id, (t = { version: undefined, rules: [], ready: false, keys: new Map() }));
    return t;
  }

  #onBatch(tenant: string, b: IngestBatch, mode: IngestMode): void {
    if (mode !== 'live' || this.#closed) return;
    const { config, version } = this.#live.config(tenant);
    const ts = this.#tenant(tenant);
    if (ts.version !== version) {
      ts.version = version;
      ts.keys.clear();
      ts.ready = false;
      ts.rules = (config?.rules ?? []).filter((r) => r.shadow === true).map((r) => ({ name: r.name, matches: compileSelector(r.selector) }));
      if (ts.rules.length > 0) this.#track(this.#configure(tenant, ts, version));
    }
    if (!ts.ready || ts.rules.length === 0) return;
    // Which rows a shadow rule selects: decided once per series key.
    const rows = new Int8Array(b.seriesCount);
    for (let s = 0; s < b.seriesCount; s++) {
      const key = b.seriesKey(s);
      let m = ts.keys.get(key);
      if (m === undefined) {
        const flat = b.seriesLabels(s);
        const labels: Record<string, string> = {};
        for (let j = 0; j < flat.length; j += 2) labels[flat[j]] = flat[j + 1];
        m = ts.rules.some((r) => r.matches(b.seriesMetric(s), labels));
        ts.keys.set(key, m);
      }
      rows[s] = m ? 1 : 0;
    }
    const out = this.#batch;
    this.#now = this.#live.clock();
    out.reset();
    const ids = b.seriesIds;
    const opened = new Int32Array(b.seriesCount).fill(-1);
    for (let i = 0; i < b.length; i++) {
      const s = ids[i];
      if (rows[s] === 0) continue;
      if (opened[s] < 0) {
        const flat = b.seriesLabels(s);
        opened[s] = out.openSeries(b.seriesMetric(s), flat, flat.length, b.seriesKind(s), 1);
      }
      if ((b.flags[i] & STALE_FLAG) !== 0) out.addStale(opened[s], b.timestamps[i]);
      else out.addSample(opened[s], b.timestamps[i], b.values[i]);
    }
    const engine = this.#opened;
    if (out.length === 0 || !engine) return;
    // Called now, not later: the shadow engine reads `out` before ingest returns (it is reset
    // for the next batch); only its store commit is awaited.
    // Then its alert stage runs what is due at this batch's time, as the live one would: its own
    // kick only follows points that reach the stage, and a resolve needs a flush after them.
    const p = engine.ingest(tenant, out).then(() => engine.alerting?.pump());
    this.#track(p.catch((err) => process.emitWarning(`shadow rules of ${tenant}: ${(err as Error).message}`)));
  }

  #track(p: Promise<unknown>): void {
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  /** Gives the shadow engine the live config with only the shadow rules, made live there. */
  async #configure(tenant: string, ts: TenantShadow, version: number | null): Promise<void> {
    try {
      const latest = await this.#live.store.config.latest(tenant);
      if (!latest || latest.version !== version) return;
      const doc = parseDocument(latest.yaml);
      const rules = doc.get('rules');
      if (!isSeq(rules)) return;
      rules.items = rules.items.filter((r) => isMap(r) && r.get('shadow') === true);
      for (const r of rules.items) if (isMap(r)) r.delete('shadow');
      const { engine } = await (this.#engine ??= this.#open());
      this.#opened = engine;
      await engine.putConfig(String(doc), 'shadow', `shadow rules of live config v${version}`, `shadow rules of config v${version}`);
      if (ts.version === version) ts.ready = true;
    } catch (err) {
      process.emitWarning(`shadow rules of ${tenant} not started: ${(err as Error).message}`);
    }
  }

  async #open(): Promise<{ engine: Engine; store: Store }> {
    const store = await openSqliteStore({ path: ':memory:', now: this.#live.clock });
    const policy = this.#live.options.alerting === false ? undefined : this.#live.options.alerting?.policy;
    const engine = await createEngine({
      store, clock: this.#live.clock, sweepIntervalMs: 600_000,
      alerting: { ...(policy !== undefined && { policy }), packets: false, sink: (d) => this.#count(d) },
    });
    return { engine, store };
  }

  #count(d: Dispatch): void {
    if (d.status !== 'firing' || (d.kind !== 'notify' && d.kind !== 'escalation')) return;
    const rule = d.groupLabels.rule ?? '';
    const key = `${d.tenant}\u0000${rule}`;
    let c = this.#counts.get(key);
    if (!c) this.#counts.set(key, (c = { rule, wouldPage: 0, notifications: 0 }));
    c.notifications++;
    if (d.page) c.wouldPage++;
  }

  /** Counts per tenant and shadow rule, for /metrics. */
  counts(): Map<string, ShadowRuleCounts> {
    return this.#counts;
  }

  /** The shadow rules of a tenant next to what live sent, since the runner started. */
  async report(tenant: string): Promise<ShadowReport> {
    const names = ShadowRunner.shadowRules(this.#live.config(tenant).config);
    let live = { pages: 0, notifications: 0 };
    const al = this.#live.alerting;
    if (al) {
      for (const [k, n] of al.stage.counters.dispatched) {
        const [t, , kind, severity] = k.split('\u0000');
        // A dispatch announcing only resolved alerts carries severity S0.
        if (t !== tenant || (kind !== 'notify' && kind !== 'escalation') || severity === 'S0') continue;
        live = { pages: live.pages + (severity === 'S2' || severity === 'S3' ? n : 0), notifications: live.notifications + n };
      }
    }
    const fired = new Map<string, Set<string>>();
    const bySeverity = new Map<string, Record<Severity, number>>();
    if (this.#engine) {
      const { store } = await this.#engine;
      for (const a of await store.alerts.list({ tenant })) {
        const rule = a.labels.rule ?? '';
        const episodes = (await store.alerts.history(tenant, a.fingerprint)).filter((h, i, all) => h.state === 'firing' && (i === 0 || all[i - 1].state !== 'firing'));
        if (episodes.length === 0) continue;
        let f = fired.get(rule);
        if (!f) fired.set(rule, (f = new Set()));
        f.add(a.fingerprint);
        let s = bySeverity.get(rule);
        if (!s) bySeverity.set(rule, (s = Object.fromEntries(SEVERITIES.map((x) => [x, 0])) as Record<Severity, number>));
        s[a.severity] += episodes.length;
      }
    }
    return {
      tenant, since: this.since, live,
      rules: names.map((rule) => {
        const c = this.#counts.get(`${tenant}\u0000${rule}`) ?? { rule, wouldPage: 0, notifications: 0 };
        return { ...c, alerts: fired.get(rule)?.size ?? 0, bySeverity: bySeverity.get(rule) ?? (Object.fromEntries(SEVERITIES.map((x) => [x, 0])) as Record<Severity, number>) };
      }),
    };
  }

  /** Waits for the shadow engine to apply every batch mirrored so far (tests). */
  async settled(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    if (this.#engine) await (await this.#engine).engine.alerting?.settled();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#live.batchListeners.delete(this.#listener);
    await this.settled();
    if (this.#engine) {
      const { engine, store } = await this.#engine;
      await engine.close();
      await store.close();
    }
  }
}
