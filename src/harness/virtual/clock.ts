// The virtual clock and event loop of the sim/prog backends. Time is virtual: it only moves when
// the loop runs the next timer, so a 60 s TIME_WAIT costs no wall time and two runs with the same
// seed see exactly the same sequence of events.
//
// Time is kept in integer microseconds (link delays are fractions of a millisecond); the public
// face is milliseconds (`nowMs`). Timers with equal times fire in the order they were scheduled
// (a sequence number breaks ties), never in an order that depends on the heap's shape.
//
// Application code of the virtual hosts (the traffic client) is async: a timer resolves a
// promise and the continuation runs as a microtask. The async drivers (`runUntilSettled`,
// `runForAsync`) therefore let every microtask run (one macrotask turn) after an event that may
// have woken async code, so the continuation schedules its packets at the virtual time it woke
// up at, before the clock moves on. Which events those are: every `setTimeout` (the default, safe
// for any caller), and whatever calls `wake()` (the virtual client does, whenever its sockets hand
// it something). Packet deliveries and the stacks' own timers (`schedule`) run without a turn:
// most events are packets crossing routers and servers answering synchronously, and a turn costs
// a trip through the event loop.
//
// Every run is bounded: more than `maxSteps` timers in one run means a scenario that loops
// forever (a retransmission storm, a forwarding loop), and the run fails saying so.

export interface Timer {
  /** Virtual time it fires at, µs. */
  readonly atUs: number;
  cancel(): void;
  readonly cancelled: boolean;
}

interface Entry {
  atUs: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
  /** Timers that only exist to carry a packet over a link (see `inFlight`). */
  packet: boolean;
  /** Yield to promise continuations after it ran (see the header). */
  wakes: boolean;
}

export class StepLimitError extends Error {
  constructor(steps: number, what: string) {
    super(
      `virtual clock: more than ${steps} events while ${what}: the scenario does not settle (a forwarding loop, ` +
        `a retransmission storm, a client that never ends?); raise maxSteps if it really needs more`,
    );
    this.name = 'StepLimitError';
  }
}

export const DEFAULT_MAX_STEPS = 2_000_000;

/** Lets every pending microtask (promise continuation) run. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class VirtualClock {
  #nowUs = 0;
  #seq = 0;
  /** Binary min-heap ordered by (atUs, seq). */
  #heap: Entry[] = [];
  #packets = 0;
  #steps = 0;
  readonly maxSteps: number;
  /** Called whenever time moves forward (the World moves the datapath clock with it). */
  onAdvance: ((fromUs: number, toUs: number) => void) | undefined;

  constructor(opts: { maxSteps?: number } = {}) {
    this.maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
  }

  get nowUs(): number {
    return this.#nowUs;
  }

  get nowMs(): number {
    return this.#nowUs / 1000;
  }

  /** Timers fired since the clock was created. */
  get steps(): number {
    return this.#steps;
  }

  /** Scheduled, not cancelled, not yet fired timers. */
  get pending(): number {
    return this.#heap.reduce((n, e) => n + (e.cancelled ? 0 : 1), 0);
  }

  /** Packets on a link, not yet delivered. */
  get inFlight(): number {
    return this.#packets;
  }

  /** Runs `fn` after `delayMs` virtual milliseconds (0 = after everything already due now). */
  setTimeout(fn: () => void, delayMs: number): Timer {
    return this.#schedule(fn, Math.round(Math.max(0, delayMs) * 1000), false, true);
  }

  /** `setTimeout` for synchronous stack internals (RTO, TIME_WAIT): no turn unless `fn` calls wake(). */
  schedule(fn: () => void, delayMs: number): Timer {
    return this.#schedule(fn, Math.round(Math.max(0, delayMs) * 1000), false, false);
  }

  /** A packet delivery after `delayUs`; counted in `inFlight` so `settle()` can wait for the wire to be empty. */
  deliver(fn: () => void, delayUs: number): void {
    this.#packets++;
    this.#schedule(fn, Math.max(0, Math.round(delayUs)), true, false);
  }

  /** Async code may have been woken (a promise resolved): let it run before the next event. */
  wake(): void {
    this.#woken = true;
  }

  #woken = false;

  /** Whether the event just run needs a turn (and clears the flag). */
  #needsTurn(e: Entry | undefined): boolean {
    const w = this.#woken || (e?.wakes ?? false);
    this.#woken = false;
    return w;
  }

  #schedule(fn: () => void, delayUs: number, packet: boolean, wakes: boolean): Timer {
    const e: Entry = { atUs: this.#nowUs + delayUs, seq: this.#seq++, fn, cancelled: false, packet, wakes };
    this.#push(e);
    return {
      atUs: e.atUs,
      cancel: () => {
        e.cancelled = true;
      },
      get cancelled() {
        return e.cancelled;
      },
    };
  }

  #less(a: Entry, b: Entry): boolean {
    return a.atUs < b.atUs || (a.atUs === b.atUs && a.seq < b.seq);
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): Entry | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined) return undefined;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  /** The next live timer's time, dropping cancelled ones on the way. */
  #peek(): Entry | undefined {
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || !top.cancelled) return top;
      this.#pop();
    }
  }

  #moveTo(us: number): void {
    if (us <= this.#nowUs) return;
    const from = this.#nowUs;
    this.#nowUs = us;
    this.onAdvance?.(from, us);
  }

  /** Fires the next timer (time jumps to it). Undefined when none is left. */
  #step(what: string, budget: { steps: number }): Entry | undefined {
    const e = this.#peek();
    if (e === undefined) return undefined;
    if (++budget.steps > this.maxSteps) throw new StepLimitError(this.maxSteps, what);
    this.#pop();
    this.#steps++;
    if (e.packet) this.#packets--;
    this.#moveTo(e.atUs);
    e.fn();
    return e;
  }

  /** Runs every timer, however far in the future (synchronous code only). */
  runUntilIdle(): void {
    const budget = { steps: 0 };
    while (this.#step('running until idle', budget) !== undefined);
  }

  /** Runs the timers due within `ms`, then sets the time to now + ms (synchronous code only). */
  runFor(ms: number): void {
    const end = this.#nowUs + Math.round(ms * 1000);
    const budget = { steps: 0 };
    for (let e = this.#peek(); e !== undefined && e.atUs <= end; e = this.#peek()) this.#step(`running for ${ms} ms`, budget);
    this.#moveTo(end);
  }

  /** `runFor` for async hosts: microtasks run after every timer. */
  async runForAsync(ms: number): Promise<void> {
    const end = this.#nowUs + Math.round(ms * 1000);
    const budget = { steps: 0 };
    await turn();
    for (let e = this.#peek(); e !== undefined && e.atUs <= end; e = this.#peek()) {
      if (this.#needsTurn(this.#step(`advancing ${ms} ms`, budget))) await turn();
    }
    this.#moveTo(end);
    await turn();
  }

  /**
   * Runs timers until `p` settles and returns its value (rethrows its error). A promise that
   * waits for nothing the clock will ever fire is a bug of the host model: reported, not hung.
   */
  async runUntilSettled<T>(p: Promise<T>, what: string): Promise<T> {
    let done = false;
    const watched = p.finally(() => {
      done = true;
    });
    // Keep an early rejection from being reported as unhandled while the clock runs.
    watched.catch(() => undefined);
    const budget = { steps: 0 };
    await turn();
    while (!done) {
      const e = this.#step(what, budget);
      if (e === undefined) {
        await turn();
        if (done) break;
        // Something may have woken without saying so: only give up when a turn changed nothing.
        if (this.#peek() !== undefined) continue;
        throw new Error(
          `virtual clock: nothing left to run while ${what} is still waiting (a virtual host waits for an event nobody scheduled)`,
        );
      }
      if (this.#needsTurn(e)) await turn();
    }
    return watched;
  }

  /**
   * Runs until no packet is on a link and nothing is left at the current instant (responses to
   * injected frames arrive; timers due before them fire too; later timers wait).
   */
  async settle(what: string): Promise<void> {
    const budget = { steps: 0 };
    await turn();
    while (this.#packets > 0 || this.#peek()?.atUs === this.#nowUs) {
      if (this.#needsTurn(this.#step(what, budget))) await turn();
    }
    await turn();
  }
}

/**
 * Seeded PRNG (mulberry32): ISNs, ephemeral ports and IP ids come from here, so one seed gives
 * byte-identical captures. Each node draws from its own stream (seed mixed with the node name),
 * so adding traffic on one node does not shift another node's numbers.
 */
export class Rng {
  #s: number;
  constructor(seed: number, stream = '') {
    let h = (seed ^ 0x9e3779b9) >>> 0;
    for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ stream.charCodeAt(i), 0x01000193) >>> 0;
    this.#s = h;
  }
  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + (this.u32() % (hi - lo + 1));
  }
}
