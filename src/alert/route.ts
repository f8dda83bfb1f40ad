/**
 * The routing tree, as Alertmanager walks it: depth first; the first matching child wins unless
 * it says `continue`; a node none of whose children match delivers to its own receiver.
 */
import type { Route } from '../config/index.ts';
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
