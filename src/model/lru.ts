// A bounded map with least-recently-used eviction: the model of the kernel's LRU hash maps
// (xlb_ct, xlb_persist). Exact LRU: a lookup or an update makes an entry the most recent, an
// insert into a full map evicts the least recent. The kernel's LRU is an approximation of this
// (per-CPU free lists, a reference bit instead of a move on lookup, eviction in batches), so a
// full table may evict other entries there; docs/model.md says so.
export class LruMap<V> {
  private readonly map = new Map<string, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`LRU capacity ${capacity}: give an integer >= 1`);
  }

  get size(): number {
    return this.map.size;
  }

  /** Lookup that counts as a use (the kernel's bpf_map_lookup_elem sets the reference bit). */
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  /** Lookup without touching the order (user-space reads). */
  peek(key: string): V | undefined {
    return this.map.get(key);
  }

  set(key: string, value: V): void {
    if (this.map.has(key)) this.map.delete(key);
    else if (this.map.size >= this.capacity) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) this.map.delete(oldest.value);
    }
    this.map.set(key, value);
  }

  delete(key: string): boolean {
    return this.map.delete(key);
  }

  entries(): IterableIterator<[string, V]> {
    return this.map.entries();
  }
}
