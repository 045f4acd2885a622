// Timeouts that wait for a real process (tcpdump printing "listening on", the agent's REST API,
// a traffic client) are sized for a real machine. Under emulation (a TCG guest of `xlb vm run`,
// 10-50× slower) the same work takes longer and a fixed timeout fails a run that is merely slow.
// XLB_SLOW_FACTOR (a number >= 1; `xlb vm run` sets it for TCG guests) multiplies them. One knob,
// read here only.
export function slowFactor(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.XLB_SLOW_FACTOR;
  if (v === undefined || v === '') return 1;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 1)
    throw new Error(`XLB_SLOW_FACTOR=${v}: give a number >= 1 (how many times slower this machine is than a real one)`);
  return n;
}

/** A timeout in ms, scaled by XLB_SLOW_FACTOR. */
export function slow(ms: number): number {
  return Math.round(ms * slowFactor());
}
