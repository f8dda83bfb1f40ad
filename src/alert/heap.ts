/** A binary min-heap of timers (time, target, generation); stale entries are skipped by the owner. */
export interface TimerEntry<T> {
  readonly at: number;
  readonly target: T;
  readonly gen: number;
}

export class TimerHeap<T> {
  readonly #a: TimerEntry<T>[] = [];

  get size(): number {
    return this.#a.length;
  }

  push(at: number, target: T, gen: number): void {
    const a = this.#a;
    a.push({ at, target, gen });
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p].at <= a[i].at) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }

  /** Earliest time, or Infinity when empty. */
  peek(): number {
    return this.#a.length > 0 ? this.#a[0].at : Infinity;
  }

  pop(): TimerEntry<T> | undefined {
    const a = this.#a;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l].at < a[m].at) m = l;
        if (r < a.length && a[r].at < a[m].at) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}
