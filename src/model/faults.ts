// Deliberate faults of the model, by name (OpenDatapathOptions.faults): each breaks one rule of
// docs/datapath.md so the harness can prove its checks catch that kind of bug (a self-test that
// cannot fail is no test). Off by default; an unknown name is refused with the list.
export const MODEL_FAULTS = {
  'reply-untranslated': 'replies (reply entries) are passed without their reverse translation',
  'l4-checksum-stale': 'port rewrites do not update the TCP/UDP checksum',
  'udp-zero-checksum-filled': 'a UDP checksum of 0 ("none") is updated like any other',
  'inactive-endpoints-used': 'endpoint selection ignores the active flag',
  'no-conntrack-expiry': 'conntrack entries never time out',
  'rst-always-accepted': 'every RST of a tracked flow is plausible',
  'icmp-errors-untranslated': 'ICMP errors about tracked flows pass untouched',
} as const;

export type ModelFault = keyof typeof MODEL_FAULTS;

export function parseFaults(names: readonly string[] | undefined): ReadonlySet<ModelFault> {
  const out = new Set<ModelFault>();
  for (const n of names ?? []) {
    if (!(n in MODEL_FAULTS)) {
      throw new Error(
        `model datapath: unknown fault '${n}'; known faults: ${Object.entries(MODEL_FAULTS)
          .map(([k, v]) => `${k} (${v})`)
          .join('; ')}`,
      );
    }
    out.add(n as ModelFault);
  }
  return out;
}
