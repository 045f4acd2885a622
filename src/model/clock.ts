// The model's virtual clock (ns). It moves only when told (advance), so a run is reproducible;
// it starts at 0, as the prog backend's virtual time does, so timestamps compare directly.
export const MODEL_CLOCK_START_NS = 0n;
export const NSEC_PER_SEC = 1_000_000_000n;

export class VirtualClock {
  private ns = MODEL_CLOCK_START_NS;

  now(): bigint {
    return this.ns;
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0)
      throw new RangeError(`advance(${ms}): give a finite number of milliseconds >= 0 (the clock only moves forward)`);
    this.ns += BigInt(Math.round(ms * 1e6));
  }
}
