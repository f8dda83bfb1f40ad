/**
 * A strict reader over a parsed YAML document. It walks the node tree (not `toJS()` output) so
 * every problem can name its path and line, records problems instead of throwing, and keeps
 * going so that `tidemark config validate` can list every error in one run.
 *
 * Readers return `undefined` when a value is missing or wrong; the problem is already recorded,
 * and the loader only builds a config when no problem was recorded at all.
 */
import { isAlias, isMap, isScalar, isSeq, isPair, type Document, type LineCounter, type Node, type YAMLMap, type YAMLSeq } from 'yaml';
import type { ErrorCode } from '../errors.ts';
import { parseDuration } from './duration.ts';

/** One problem in a config file. Plain data, so the API can return it as JSON. */
export interface ConfigIssue {
  readonly code: ErrorCode;
  /** Where: `rules[2].detectors[0].config.window`; `(root)` for the whole file. */
  readonly path: string;
  /** 1-based line in the file, when known. */
  readonly line: number | undefined;
  readonly message: string;
}

/** `rules[2].selector (line 41): expected ...` */
export function formatConfigIssue(issue: ConfigIssue): string {
  return `${issue.path || '(root)'}${issue.line === undefined ? '' : ` (line ${issue.line})`}: ${issue.message}`;
}

export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/** Cap on alias expansions: an "alias bomb" (aliases of aliases) cannot make loading explode. */
const MAX_ALIAS_EXPANSIONS = 1000;

/** Edit distance with adjacent transpositions (optimal string alignment), for "did you mean" hints. */
function distance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2][j - 2] + 1);
      rows[i][j] = d;
    }
  }
  return rows[a.length][b.length];
}

/** The closest candidate to a misspelt name, if one is close enough and no other is as close. */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  let tie = false;
  for (const c of candidates) {
    const d = distance(name.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
      tie = false;
    } else if (d === bestD && c !== best) tie = true;
  }
  if (best === undefined || tie) return undefined;
  return bestD <= Math.max(1, Math.floor(Math.max(name.length, best.length) / 3)) ? best : undefined;
}

/** `; did you mean 'window'?` or nothing. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const c = closest(name, candidates);
  return c === undefined ? '' : ` (did you mean '${c}'?)`;
}

/** Shows a value in a message: strings quoted, collections named, long values cut. */
export function describe(node: unknown): string {
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) {
    const items = node.items;
    // Short lists of plain values are shown, so `[0, high]` says what is wrong with it.
    if (items.length <= 5 && items.every((i) => isScalar(i) && typeof i.value !== 'object')) {
      return `a list [${items.map((i) => describe(i)).join(', ')}]`;
    }
    return 'a list';
  }
  const v = isScalar(node) ? node.value : node;
  if (v === null || v === undefined) return 'nothing (an empty value)';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return String(v);
}

/** The keys of one mapping, read once; `get` marks nothing, unknown keys were reported already. */
export class Fields {
  readonly path: string;
  readonly node: YAMLMap;
  readonly #values = new Map<string, Node | null>();
  readonly #keys = new Map<string, Node>();
  constructor(path: string, node: YAMLMap) {
    this.path = path;
    this.node = node;
  }
  set(key: string, keyNode: Node, value: Node | null): void {
    this.#keys.set(key, keyNode);
    this.#values.set(key, value);
  }
  has(key: string): boolean {
    return this.#values.has(key);
  }
  /** The value node; null for `key:` with nothing after it; undefined when absent. */
  get(key: string): Node | null | undefined {
    return this.#values.get(key);
  }
  keyNode(key: string): Node | undefined {
    return this.#keys.get(key);
  }
  keys(): string[] {
    return [...this.#values.keys()];
  }
  at(key: string): string {
    return childPath(this.path, key);
  }
}

export interface NumberSpec {
  integer?: boolean;
  min?: number;
  max?: number;
  /** `min` itself is not allowed. */
  minExclusive?: boolean;
  maxExclusive?: boolean;
  /** What to say after "expected"; derived from the bounds when absent. */
  expected?: string;
}

function numberExpectation(s: NumberSpec): string {
  if (s.expected) return s.expected;
  const kind = s.integer ? 'integer' : 'number';
  if (s.min === 0 && s.minExclusive && s.max === undefined) return `a positive ${kind}`;
  if (s.min === 1 && s.integer && s.max === undefined) return 'a positive integer';
  if (s.min === 0 && !s.minExclusive && s.max === undefined) return `a non-negative ${kind}`;
  if (s.min !== undefined && s.max !== undefined) {
    const lo = s.minExclusive ? 'above' : 'from';
    const hi = s.maxExclusive ? 'below' : 'up to';
    return `a ${kind} ${lo} ${s.min} ${hi} ${s.max}`;
  }
  if (s.min !== undefined) return `a ${kind} ${s.minExclusive ? 'above' : 'of at least'} ${s.min}`;
  if (s.max !== undefined) return `a ${kind} ${s.maxExclusive ? 'below' : 'of at most'} ${s.max}`;
  return `a ${kind}`;
}

export class Reader {
  readonly issues: ConfigIssue[] = [];
  readonly #doc: Document;
  readonly #lines: LineCounter;
  #aliases = 0;

  constructor(doc: Document, lines: LineCounter) {
    this.#doc = doc;
    this.#lines = lines;
  }

  lineOf(node: Node | null | undefined): number | undefined {
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : this.#lines.linePos(offset).line;
  }

  lineAt(offset: number): number {
    return this.#lines.linePos(offset).line;
  }

  /** Records a problem; `at` is the node whose line is reported. */
  error(path: string, at: Node | null | undefined, message: string, code: ErrorCode = 'TM_ERR_CONFIG'): void {
    this.issues.push({ code, path, line: this.lineOf(at), message });
  }

  /** Follows an alias to its anchored node (an anchor's line is where a fix goes). */
  deref(node: Node | null | undefined, path: string): Node | null | undefined {
    if (!isAlias(node)) return node;
    if (++this.#aliases > MAX_ALIAS_EXPANSIONS) {
      if (this.#aliases === MAX_ALIAS_EXPANSIONS + 1) {
        this.error(path, node, `more than ${MAX_ALIAS_EXPANSIONS} alias expansions; the file expands too much to load`);
      }
      return undefined;
    }
    const target = node.resolve(this.#doc);
    if (!target) {
      this.error(path, node, `unknown alias '*${node.source}': no anchor '&${node.source}' before it`);
      return undefined;
    }
    return target;
  }

  /**
   * Reads a mapping with exactly the allowed keys: unknown keys are reported (with a
   * suggestion), and so are missing `required` ones. Returns undefined if `node` is not a mapping.
   */
  mapping(node: Node | null | undefined, path: string, allowed: readonly string[], required: readonly string[] = [], at?: Node): Fields | undefined {
    node = this.deref(node, path);
    if (!isMap(node)) {
      if (node !== undefined) this.error(path, node ?? at, `expected a mapping with keys ${allowed.join(', ')}, got ${describe(node)}`);
      return undefined;
    }
    const fields = new Fields(path, node);
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const keyNode = this.deref(pair.key as Node, path);
      if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
        this.error(path, (keyNode ?? node) as Node, `keys must be plain names, got ${describe(keyNode)}`);
        continue;
      }
      const key = keyNode.value;
      if (fields.has(key)) continue; // duplicates are reported once, by the loader, with their path
      if (key === '<<') {
        this.error(childPath(path, key), keyNode, 'YAML merge keys (<<) are not supported; repeat the keys, or alias a whole value with *name');
        continue;
      }
      if (!allowed.includes(key)) {
        this.error(childPath(path, key), keyNode, `unknown key '${key}'${didYouMean(key, allowed)}; valid keys: ${allowed.join(', ')}`);
        continue;
      }
      fields.set(key, keyNode, (pair.value as Node | null) ?? null);
    }
    for (const key of required) {
      if (!fields.has(key)) this.error(childPath(path, key), node, `required key '${key}' is missing`);
    }
    return fields;
  }

  /** The mapping at `f[key]`; absent -> undefined with no error (the caller decides). */
  mappingAt(f: Fields, key: string, allowed: readonly string[], required: readonly string[] = []): Fields | undefined {
    if (!f.has(key)) return undefined;
    return this.mapping(f.get(key), f.at(key), allowed, required, f.keyNode(key));
  }

  /** Reads a list; `each` is called per item with its path. Absent -> undefined, no error. */
  list<T>(f: Fields, key: string, each: (item: Node | null | undefined, path: string, index: number) => T | undefined): T[] | undefined {
    if (!f.has(key)) return undefined;
    return this.listNode(f.get(key), f.at(key), each, f.keyNode(key));
  }

  listNode<T>(node: Node | null | undefined, path: string, each: (item: Node | null | undefined, path: string, index: number) => T | undefined, at?: Node): T[] | undefined {
    node = this.deref(node, path);
    if (!isSeq(node)) {
      if (node !== undefined) this.error(path, node ?? at, `expected a list, got ${describe(node)}`);
      return undefined;
    }
    const out: T[] = [];
    let ok = true;
    (node as YAMLSeq).items.forEach((item, i) => {
      const p = childPath(path, i);
      if (item === null || (isScalar(item) && item.value === null && !item.source)) {
        this.error(p, (item as Node | null) ?? node, 'empty list item; remove the lone dash or fill it in');
        ok = false;
        return;
      }
      const v = each(this.deref(item as Node | null, p), p, i);
      if (v === undefined) ok = false;
      else out.push(v);
    });
    return ok ? out : undefined;
  }

  /** The scalar at `key`, or undefined (reported) when it is a collection. */
  #scalar(f: Fields, key: string): { node: Node | null; value: unknown; shown: string } | undefined {
    const node = this.deref(f.get(key), f.at(key));
    if (node === undefined) return undefined;
    // `key:` with nothing after it: report the key's line.
    if (node === null) return { node: f.keyNode(key) ?? null, value: null, shown: describe(null) };
    return { node, value: isScalar(node) ? node.value : node, shown: describe(node) };
  }

  /** A string. `check` returns a problem (`expected ...`) or undefined. */
  string(f: Fields, key: string, expected: string, check?: (s: string) => boolean): string | undefined {
    const s = this.#scalar(f, key);
    if (!s) return undefined;
    if (typeof s.value !== 'string' || s.value === '' || (check && !check(s.value))) {
      this.error(f.at(key), s.node, `expected ${expected}, got ${s.shown}`);
      return undefined;
    }
    return s.value;
  }

  number(f: Fields, key: string, spec: NumberSpec): number | undefined {
    const s = this.#scalar(f, key);
    if (!s) return undefined;
    const v = s.value;
    const bad =
      typeof v !== 'number' ||
      Number.isNaN(v) ||
      (spec.integer && !Number.isSafeInteger(v)) ||
      (spec.min !== undefined && (spec.minExclusive ? v <= spec.min : v < spec.min)) ||
      (spec.max !== undefined && (spec.maxExclusive ? v >= spec.max : v > spec.max));
    if (bad) {
      this.error(f.at(key), s.node, `expected ${numberExpectation(spec)}, got ${s.shown}`);
      return undefined;
    }
    return v as number;
  }

  boolean(f: Fields, key: string): boolean | undefined {
    const s = this.#scalar(f, key);
    if (!s) return undefined;
    if (typeof s.value !== 'boolean') {
      this.error(f.at(key), s.node, `expected true or false, got ${s.shown}`);
      return undefined;
    }
    return s.value;
  }

  oneOf<T extends string>(f: Fields, key: string, values: readonly T[]): T | undefined {
    const s = this.#scalar(f, key);
    if (!s) return undefined;
    if (typeof s.value !== 'string' || !(values as readonly string[]).includes(s.value)) {
      const hint = typeof s.value === 'string' ? didYouMean(s.value, values) : '';
      this.error(f.at(key), s.node, `expected one of ${values.join(', ')}, got ${s.shown}${hint}`);
      return undefined;
    }
    return s.value as T;
  }

  /** A duration like `30s`, `5m`, `1h30m`, in milliseconds. */
  duration(f: Fields, key: string, opts: { positive?: boolean; max?: number; maxText?: string } = {}): number | undefined {
    const s = this.#scalar(f, key);
    if (!s) return undefined;
    const ms = typeof s.value === 'string' ? parseDuration(s.value) : undefined;
    const what = opts.positive ? 'a positive duration' : 'a duration';
    if (ms === undefined) {
      const unitless = typeof s.value === 'number' ? ' (a duration needs a unit: ms, s, m, h, d or w)' : '';
      this.error(f.at(key), s.node, `expected ${what} like 30s, 5m or 1h30m, got ${s.shown}${unitless}`);
      return undefined;
    }
    if (opts.positive && ms === 0) {
      this.error(f.at(key), s.node, `expected ${what} like 30s, 5m or 1h30m, got ${s.shown}`);
      return undefined;
    }
    if (opts.max !== undefined && ms > opts.max) {
      this.error(f.at(key), s.node, `expected ${what} of at most ${opts.maxText}, got ${s.shown}`);
      return undefined;
    }
    return ms;
  }

  /** An absolute http(s) URL; `httpsOnly` for secrets in the URL (Slack). */
  url(f: Fields, key: string, httpsOnly = false): string | undefined {
    const s = this.#scalar(f, key);
    if (!s) return undefined;
    const scheme = httpsOnly ? 'an https:// URL' : 'an http:// or https:// URL';
    let parsed: URL | undefined;
    if (typeof s.value === 'string') {
      try {
        parsed = new URL(s.value);
      } catch {
        parsed = undefined;
      }
    }
    const okScheme = parsed && (parsed.protocol === 'https:' || (!httpsOnly && parsed.protocol === 'http:'));
    if (!parsed || !okScheme || !parsed.hostname) {
      this.error(f.at(key), s.node, `expected ${scheme}, got ${s.shown}`);
      return undefined;
    }
    return s.value as string;
  }

  /** A list of distinct strings, each checked. */
  stringList(f: Fields, key: string, expected: string, check: (s: string) => boolean): string[] | undefined {
    const seen = new Set<string>();
    return this.list(f, key, (item, path) => {
      const v = isScalar(item) ? item.value : item;
      if (typeof v !== 'string' || !check(v)) {
        this.error(path, item, `expected ${expected}, got ${describe(item)}`);
        return undefined;
      }
      if (seen.has(v)) {
        this.error(path, item, `'${v}' is listed twice`);
        return undefined;
      }
      seen.add(v);
      return v;
    });
  }

  /** A mapping of label name -> string value (static labels, route matchers). */
  stringMap(f: Fields, key: string, keyCheck: (k: string) => string | undefined, valueCheck: (v: string) => string | undefined): Record<string, string> | undefined {
    const node = this.deref(f.get(key), f.at(key));
    if (node === undefined) return undefined;
    if (!isMap(node)) {
      this.error(f.at(key), node ?? f.keyNode(key), `expected a mapping of label name to value, got ${describe(node)}`);
      return undefined;
    }
    const out: Record<string, string> = {};
    let ok = true;
    for (const pair of node.items) {
      const k = this.deref(pair.key as Node, f.at(key));
      if (!isScalar(k) || typeof k.value !== 'string') {
        this.error(f.at(key), (k ?? node) as Node, `keys must be label names, got ${describe(k)}`);
        ok = false;
        continue;
      }
      const path = childPath(f.at(key), k.value);
      const keyProblem = keyCheck(k.value);
      if (keyProblem) {
        this.error(path, k, keyProblem);
        ok = false;
        continue;
      }
      const v = this.deref(pair.value as Node | null, path);
      const value = isScalar(v) ? v.value : v;
      if (typeof value !== 'string') {
        this.error(path, v ?? k, `expected a string value (quote numbers and booleans), got ${describe(v)}`);
        ok = false;
        continue;
      }
      const valueProblem = valueCheck(value);
      if (valueProblem) {
        this.error(path, v, valueProblem);
        ok = false;
        continue;
      }
      Object.defineProperty(out, k.value, { value, enumerable: true, writable: true, configurable: true });
    }
    return ok ? out : undefined;
  }

  /**
   * Converts a free-form node (a detector's `config`) to plain data for code that validates it
   * itself. Bounded in depth and size; keys become own properties (a `__proto__` key stays data).
   */
  plain(node: Node | null | undefined, path: string, budget = { nodes: 10_000 }, depth = 0): unknown {
    node = this.deref(node, path);
    if (node === undefined || node === null) return null;
    if (--budget.nodes < 0 || depth > 32) {
      if (budget.nodes === -1 || depth === 33) this.error(path, node, 'nested too deeply or too large (over 32 levels or 10,000 values)');
      return null;
    }
    if (isScalar(node)) return node.value;
    if (isSeq(node)) return node.items.map((item, i) => this.plain(item as Node, childPath(path, i), budget, depth + 1));
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const k = this.deref(pair.key as Node, path);
        if (!isScalar(k) || (typeof k.value !== 'string' && typeof k.value !== 'number')) {
          this.error(path, (k ?? node) as Node, `keys must be plain names, got ${describe(k)}`);
          continue;
        }
        const name = String(k.value);
        Object.defineProperty(out, name, {
          value: this.plain(pair.value as Node, childPath(path, name), budget, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    return null;
  }

  /** Finds the node at a path below `node` (`.window`, `[2].q`), for errors raised by other code. */
  find(node: Node | null | undefined, relPath: string): Node | undefined {
    let cur = this.deref(node, '') ?? undefined;
    const re = /\.([^.[\]]+)|\[(\d+)\]/y;
    let pos = 0;
    while (cur && pos < relPath.length) {
      re.lastIndex = pos;
      const m = re.exec(relPath);
      if (!m) break;
      pos = re.lastIndex;
      let next: Node | undefined;
      if (m[1] !== undefined && isMap(cur)) {
        const pair = cur.items.find((p) => isScalar(p.key) && String(p.key.value) === m[1]);
        next = (pair?.value as Node | null) ?? (pair?.key as Node | undefined);
      } else if (m[2] !== undefined && isSeq(cur)) {
        next = cur.items[Number(m[2])] as Node | undefined;
      }
      if (!next) break;
      cur = this.deref(next, '') ?? undefined;
    }
    return cur;
  }
}
