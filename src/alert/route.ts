/**
 * The routing tree, as Alertmanager walks it: depth first; the first matching child wins unless
 * it says `continue`; a node none of whose children match delivers to its own receiver.
 */
import type { Route } from '../config/index.ts';
import { reasonClass } from '../detect/types.ts';
import type { Labels } from './types.ts';

const compiled = new WeakMap<Route, (labels: Labels) => boolean>();

function matcher(r: Route): (labels: Labels) => boolean {
  let m = compiled.get(r);
  if (m) return m;
  const eq = Object.entries(r.match);
  const re = Object.entries(r.matchRe).map(([k, v]) => [k, new RegExp(`^(?:${v})$`, 'u')] as const);
  m = (labels) => eq.every(([k, v]) => (labels[k] ?? '') === v) && re.every(([k, x]) => x.test(labels[k] ?? ''));
  compiled.set(r, m);
  return m;
}

function walk(node: Route, labels: Labels, out: string[]): void {
  let matched = false;
  for (const child of node.routes) {
    if (!matcher(child)(labels)) continue;
    matched = true;
    walk(child, labels, out);
    if (!child.continue) break;
  }
  if (!matched && !out.includes(node.receiver)) out.push(node.receiver);
}

/**
 * The receivers an alert with these labels goes to, in tree order, without repeats.
 * @example routeReceivers(config.route, { severity: 'S2', team: 'checkout' }) // ['payments-pager', ...]
 */
export function routeReceivers(root: Route, labels: Labels): string[] {
  const out: string[] = [];
  walk(root, labels, out);
  return out;
}

/**
 * The response path of an alert, from its strongest reason: `drift` (a distribution moved:
 * an investigation item, notified and never paged), `data_quality` (unit change, range, null
 * rate: the owning pipeline's receiver) or `anomaly` (outliers, pattern breaks and rule facts:
 * may page). Alerts carry it as the label `response_path` when it is not `anomaly`, so a
 * routing tree can match it.
 * @example responsePath(['drift']) // 'drift'
 */
export type ResponsePath = 'anomaly' | 'drift' | 'data_quality';

export function responsePath(reasons: readonly string[]): ResponsePath {
  const c = reasons.length > 0 ? reasonClass(reasons[0]) : 'none';
  return c === 'drift' ? 'drift' : c === 'data_quality' ? 'data_quality' : 'anomaly';
}

/** The alert label that carries a non-default response path. */
export const RESPONSE_PATH_LABEL = 'response_path';
