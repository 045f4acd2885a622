// RingBuffer: consumes a BPF_MAP_TYPE_RINGBUF map from Node's event loop. libbpf's epoll fd is
// watched with a libuv poll handle: records arrive as Buffer copies, in order, with no busy
// polling and without ever blocking the main thread.
import { BpfError, check, fromNative } from './errors.ts';
import type { BpfMap } from './map.ts';
import { native } from './native.ts';
import type { NativeHandle } from './native.ts';

export class RingBuffer {
  readonly map: BpfMap;
  #handle: NativeHandle | undefined;

  constructor(map: BpfMap, onRecord: (data: Buffer) => void) {
    if (map.type !== 'ringbuf') {
      throw new BpfError({
        op: 'ring buffer open',
        target: map.name,
        errno: 'EINVAL',
        detail: `map '${map.name}' is a ${map.type} map, not a ringbuf`,
      });
    }
    if (map.fd < 0) {
      throw new BpfError({ op: 'ring buffer open', target: map.name, errno: 'EBADF', detail: 'the map is closed' });
    }
    this.map = map;
    try {
      this.#handle = native().ringbufOpen(map.fd, onRecord);
    } catch (e) {
      throw fromNative(e);
    }
  }

  /** Drains every available record synchronously (the event loop does this on its own). */
  consume(): number {
    if (this.#handle === undefined)
      throw new BpfError({ op: 'ring buffer consume', target: this.map.name, errno: 'EBADF', detail: 'the consumer is closed' });
    return check(native().ringbufConsume(this.#handle), 'ring buffer consume', this.map.name);
  }

  /** Whether an open consumer keeps the process alive (default: it does). */
  ref(): this {
    if (this.#handle !== undefined) native().ringbufRef(this.#handle, true);
    return this;
  }

  unref(): this {
    if (this.#handle !== undefined) native().ringbufRef(this.#handle, false);
    return this;
  }

  get closed(): boolean {
    return this.#handle === undefined;
  }

  /** Stops consuming and frees the consumer (its epoll fd and mappings). Idempotent; safe inside onRecord. */
  close(): void {
    if (this.#handle === undefined) return;
    native().ringbufClose(this.#handle);
    this.#handle = undefined;
  }
}
