// The read side of one byte stream, shared by the lab client (node:net sockets,
// client-core.ts) and the virtual client (virtual TCP, src/harness/virtual/client.ts): bytes
// are appended as they arrive and `until` waits for a prefix the caller recognises, so both
// clients read banners, echoes and HTTP heads the same way and fail with the same text.

export class StreamBuffer {
  /** Bytes arrived and not yet taken by `until`. */
  buf = Buffer.alloc(0);
  /** Every byte that arrived. */
  total = 0;
  error: Error | null = null;
  ended = false;
  #waiters: (() => void)[] = [];

  push(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    this.total += chunk.length;
    this.wake();
  }

  fail(e: Error): void {
    this.error = e;
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  /** Calls fn once, at the next arrival, error or end. */
  onChange(fn: () => void): void {
    this.#waiters.push(fn);
  }

  protected wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /**
   * Waits until pred, given the bytes not yet taken, returns a length ≥ 0, then takes and returns
   * that many bytes. Throws the stream's error, or "connection closed by peer after N bytes" when
   * it ends first.
   */
  async until(pred: (b: Buffer) => number): Promise<Buffer> {
    for (;;) {
      const n = pred(this.buf);
      if (n >= 0) {
        const out = this.buf.subarray(0, n);
        this.buf = this.buf.subarray(n);
        return out;
      }
      if (this.error !== null) throw this.error;
      if (this.ended) throw new Error(`connection closed by peer after ${this.total} bytes`);
      await new Promise<void>((r) => this.onChange(r));
    }
  }
}
