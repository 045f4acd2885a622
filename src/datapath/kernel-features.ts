// Kernel features the datapath and the scenarios depend on, probed once per process from the
// running kernel's own BTF (/sys/kernel/btf/vmlinux). A uapi enum constant (BPF_FUNC_*,
// BPF_MAP_TYPE_*, BPF_FIB_LOOKUP_*, SKB_DROP_REASON_*) is in the kernel's BTF string table
// exactly when that kernel was built with it: the kernel says what it knows, without loading a
// single program (a probe load per helper costs seconds under TCG) and without a version table
// (distribution kernels backport). Why each one matters is in `why`; `since` is the mainline
// release that added it, for the reader only, never used to decide.
//
// A scenario names the features it needs (`requires` in src/harness/scenario.ts); the runner
// skips it with the reason on a kernel that lacks one, instead of failing it. The prog and lab
// backends need DATAPATH_REQUIRES whatever the scenario. `xlb doctor` lists every feature.
import { readFileSync } from 'node:fs';
import { release } from 'node:os';

export interface KernelFeatureDef {
  /** The BTF name whose presence means the kernel has it. */
  btfName: string;
  since: string;
  why: string;
}

export const KERNEL_FEATURES = {
  btf: { btfName: '', since: '4.18', why: 'CO-RE relocations of the drop tracer; the datapath objects carry BTF for their maps' },
  ringbuf: { btfName: 'BPF_MAP_TYPE_RINGBUF', since: '5.8', why: 'the trace and drop-event ring buffers' },
  fib_lookup: { btfName: 'BPF_FUNC_fib_lookup', since: '4.18', why: 'route and neighbour lookup of every forwarded packet' },
  redirect_neigh: {
    btfName: 'BPF_FUNC_redirect_neigh',
    since: '5.10',
    why: 'TC: sending to a next hop whose neighbour entry is not resolved yet',
  },
  ktime_get_coarse_ns: { btfName: 'BPF_FUNC_ktime_get_coarse_ns', since: '5.11', why: 'the conntrack clock' },
  check_mtu: {
    btfName: 'BPF_FUNC_check_mtu',
    since: '5.12',
    why: 'an oversize packet on a cached next hop gets ICMP too-big (bpf/include/fwd.h, icmp.h)',
  },
  cast_to_kern_ctx: {
    btfName: 'bpf_cast_to_kern_ctx',
    since: '6.2',
    why: "TC: the datapath reads the skb's ip_summed and updates the L4 checksum in place when no checksum state depends on it (NONE / UNNECESSARY); without it the helpers make every update (bpf/include/hook.h)",
  },
  fib_lookup_tbid: {
    btfName: 'BPF_FIB_LOOKUP_TBID',
    since: '6.8',
    why: 'route lookups in one table only (config flag fib_table); without it bpf_fib_lookup returns -EINVAL, which the datapath counts as pass_fib, the same verdict an empty table gives',
  },
  kfree_skb_reason: {
    btfName: 'SKB_DROP_REASON_NOT_SPECIFIED',
    since: '5.17',
    why: "the drop tracer names the kernel's reason for each kfree_skb",
  },
  bpf_loop: {
    btfName: 'BPF_FUNC_loop',
    since: '5.17',
    why: 'not used by the datapath (bounded loops are unrolled): listed for datapath work',
  },
  tcx: {
    btfName: 'BPF_TCX_INGRESS',
    since: '6.6',
    why: 'not used (TC programs attach through clsact/netlink, which every kernel has): listed for datapath work',
  },
  l4_csum_ipv6: {
    btfName: 'BPF_F_IPV6',
    since: '6.16',
    why: 'not used (IPv6 L4 checksums go through the pseudo-header diff): listed for datapath work',
  },
  xdp_features: {
    btfName: 'NETDEV_XDP_ACT_BASIC',
    since: '6.3',
    why: 'drivers advertise their XDP features (netlink); not used, listed for diagnosis',
  },
} as const satisfies Record<string, KernelFeatureDef>;

export type KernelFeature = keyof typeof KERNEL_FEATURES;

export const FEATURE_NAMES = Object.keys(KERNEL_FEATURES) as KernelFeature[];

/** What the prog and lab backends need on every scenario: the datapath objects use these. */
export const DATAPATH_REQUIRES: readonly KernelFeature[] = [
  'btf',
  'ringbuf',
  'fib_lookup',
  'redirect_neigh',
  'ktime_get_coarse_ns',
  'check_mtu',
];

export interface FeatureProbe {
  kernel: string;
  /** Where the answers come from (the BTF file), or why nothing could be probed. */
  source: string;
  have: Record<KernelFeature, boolean>;
}

/** The names of a BTF string section: only membership is asked. */
export interface BtfNames {
  has(name: string): boolean;
}

/**
 * The names in a raw BTF blob's string section (header: magic 0xeB9F, hdr_len, type/str offsets).
 * A lookup searches the section for `\0NAME\0` (the section starts with the empty string's NUL,
 * so every name has a NUL before it): a few microseconds per name, where splitting vmlinux's
 * ~2 MB of strings into a Set took ~100 ms of every agent start.
 */
export function btfStrings(blob: Buffer): BtfNames {
  if (blob.length < 24 || blob.readUInt16LE(0) !== 0xeb9f) throw new Error('not a BTF blob (magic 0xeB9F missing)');
  const hdrLen = blob.readUInt32LE(4);
  const strOff = blob.readUInt32LE(16);
  const strLen = blob.readUInt32LE(20);
  const start = hdrLen + strOff;
  if (start + strLen > blob.length) throw new Error('BTF string section runs past the end of the blob');
  const section = blob.subarray(start, start + strLen);
  return { has: (name) => name === '' || section.indexOf(Buffer.from(`\0${name}\0`, 'latin1')) >= 0 };
}

/** The features of a kernel, from its BTF's names. */
export function featuresFromBtf(names: BtfNames | undefined): Record<KernelFeature, boolean> {
  const have = {} as Record<KernelFeature, boolean>;
  for (const f of FEATURE_NAMES) {
    const def: KernelFeatureDef = KERNEL_FEATURES[f];
    have[f] = names !== undefined && (def.btfName === '' || names.has(def.btfName));
  }
  return have;
}

let cached: FeatureProbe | undefined;

/** Probes the running kernel (once per process). */
export function probeKernelFeatures(btfPath = '/sys/kernel/btf/vmlinux'): FeatureProbe {
  if (cached !== undefined && btfPath === '/sys/kernel/btf/vmlinux') return cached;
  let names: BtfNames | undefined;
  let source = btfPath;
  try {
    names = btfStrings(readFileSync(btfPath));
  } catch (e) {
    source = `no kernel BTF (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): every feature counts as missing`;
  }
  const probe = { kernel: release(), source, have: featuresFromBtf(names) };
  if (btfPath === '/sys/kernel/btf/vmlinux') cached = probe;
  return probe;
}

/** Features of `needed` this kernel lacks. */
export function missingFeatures(needed: readonly KernelFeature[], probe = probeKernelFeatures()): KernelFeature[] {
  return [...new Set(needed)].filter((f) => !probe.have[f]);
}

/** The skip reason for missing features: what is missing, since when it exists, what it is for. */
export function missingText(missing: readonly KernelFeature[], probe = probeKernelFeatures()): string {
  return `kernel ${probe.kernel} lacks ${missing.map((f) => `${f} (${KERNEL_FEATURES[f].btfName || 'vmlinux BTF'}, Linux ${KERNEL_FEATURES[f].since}: ${KERNEL_FEATURES[f].why})`).join('; ')}`;
}

export function isKernelFeature(s: string): s is KernelFeature {
  return (FEATURE_NAMES as string[]).includes(s);
}
