// The model's virtual clock (ns). It moves only when told (advance), so a run is reproducible;
// it starts at 1 s so that a timestamp of 0 keeps meaning "the clock was not read" (the
// datapath's fast path leaves the trace time 0 for packets it rejects before its lookup).
export const MODEL_CLOCK_START_NS = 1_000_000_000n;
export const NSEC_PER_SEC = 1_000_000_000n;

export class VirtualClock {
  private ns = MODEL_CLOCK_START_NS;

  now(): bigint {
    return this.ns;
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance(${ms}): give a finite number of milliseconds >= 0 (the clock only moves forward)`);
    this.ns += BigInt(Math.round(ms * 1e6));
  }
}
