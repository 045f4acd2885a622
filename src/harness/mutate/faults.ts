// The deliberate single faults of the BPF datapath: the one list the mutation run
// (`xlb run --mutate`, run.ts), its test (faults.test.ts) and docs/mutation.md use. Each name is
// a fault point `#ifdef XLB_FAULT_<NAME>` / `#ifndef XLB_FAULT_<NAME>` in bpf/include (the
// smallest change that breaks one rule of docs/datapath.md), switched on by building with
// `make -C bpf EXTRA_CFLAGS=-DXLB_FAULT_<NAME>` (faulty-build.ts). faults.test.ts checks that
// this list and the points in bpf/include are the same set.

export const STAGES = ['parse', 'conntrack', 'select', 'nat', 'fwd', 'policer', 'stats', 'trace', 'pipeline'] as const;
export type Stage = (typeof STAGES)[number];

export interface Fault {
  /** The name after XLB_FAULT_. */
  name: string;
  stage: Stage;
  /** What the fault breaks (the rule of docs/datapath.md it violates). */
  breaks: string;
  /**
   * Why the `prog` backend cannot see it, when it cannot (the suite's survivor is then a lab
   * scenario to write, or a test elsewhere).
   */
  progBlind?: string;
}

const EMPTY_FIB = 'sim/prog run with an empty FIB: the LB never forwards a packet itself (pass_fib), so only lab sees it';

export const FAULTS: readonly Fault[] = [
  // parse
  { name: 'PARSE_VLAN_TAG', stage: 'parse', breaks: 'a VLAN tag is not skipped: tagged frames to a VIP are dropped as malformed' },
  { name: 'PARSE_IPV4_IHL', stage: 'parse', breaks: 'IPv4 options are ignored: the L4 header is read inside the options' },
  { name: 'PARSE_FRAGMENT', stage: 'parse', breaks: 'IPv4 fragments are taken for whole packets (balanced, translated, tracked)' },
  {
    name: 'PARSE_FRAGMENT6',
    stage: 'parse',
    breaks: 'IPv6 Fragment headers are not read: every IPv6 fragment passes, tracked flows untranslated',
  },
  { name: 'PARSE_V6_EXT_LEN', stage: 'parse', breaks: 'the length of an IPv6 extension header is ignored (8 bytes assumed)' },
  { name: 'PARSE_ECHO_ID', stage: 'parse', breaks: "an ICMP echo request's identifier is not read: a client's echo flows share one entry" },
  // conntrack
  { name: 'CT_SYNACK', stage: 'conntrack', breaks: 'a SYN-ACK does not move SYN_SENT to SYN_RECV (the flow never becomes ESTABLISHED)' },
  {
    name: 'CT_FIN_SIDE',
    stage: 'conntrack',
    breaks: "the backend's FIN is recorded as the client's: an orderly close never reaches CLOSE_WAIT / TIME_WAIT",
  },
  { name: 'CT_TIME_WAIT', stage: 'conntrack', breaks: 'the last ACK does not move CLOSE_WAIT to TIME_WAIT' },
  { name: 'CT_RST_WINDOW', stage: 'conntrack', breaks: 'a RST outside rst_seq_window closes the flow (no RST sanity)' },
  { name: 'CT_UDP_SEEN', stage: 'conntrack', breaks: 'a UDP reply does not move UDP_NEW to UDP_SEEN (never UDP_ESTABLISHED)' },
  { name: 'CT_TIMEOUT_MS', stage: 'conntrack', breaks: 'timeouts are read as milliseconds: every flow expires 1000 times too soon' },
  {
    name: 'CT_MIDSTREAM_CAP',
    stage: 'conntrack',
    breaks: "a flow adopted mid-stream keeps ESTABLISHED's timeout instead of SYN_SENT's until the backend answers",
  },
  {
    name: 'CT_PEER_XLATE',
    stage: 'conntrack',
    breaks: "a rebuilt / new reply entry rewrites the forward direction's fields (xlate not swapped)",
  },
  { name: 'CT_PKT_COUNT', stage: 'conntrack', breaks: "an entry's packet count is not bumped" },
  { name: 'CT_RESTART', stage: 'conntrack', breaks: 'a SYN on a TIME_WAIT / CLOSED tuple does not restart the flow (stays closed)' },
  { name: 'CT_PEER_SLOT', stage: 'conntrack', breaks: "a reply entry names endpoint slot 0 instead of the flow's slot" },
  // select
  { name: 'SEL_RR_ADVANCE', stage: 'select', breaks: 'the rr cursor does not advance: every flow goes to one endpoint' },
  { name: 'SEL_INACTIVE', stage: 'select', breaks: 'inactive endpoints are selected' },
  { name: 'SEL_PORT_RANGE', stage: 'select', breaks: 'a port-range service does not serve its last port (port_hi)' },
  {
    name: 'SEL_HASH_PORTS',
    stage: 'select',
    breaks: 'the flow hash ignores ports and protocol: one client lands on one endpoint (hash, Maglev, full-NAT ports)',
  },
  { name: 'SEL_PERSIST_STORE', stage: 'select', breaks: "source persistence never stores a client's choice (it never holds)" },
  { name: 'SEL_LC_PICK', stage: 'select', breaks: 'least-connection picks the most loaded endpoint' },
  { name: 'SEL_WRR_ADVANCE', stage: 'select', breaks: 'the wrr cursor does not advance: weights are ignored, one endpoint takes all' },
  {
    name: 'SEL_GEN',
    stage: 'select',
    breaks: 'endpoints are always read from generation 0: a configuration change (generation flip) is not seen',
  },
  // nat
  { name: 'NAT_L4_PSEUDO', stage: 'nat', breaks: 'the L4 checksum misses the address change (pseudo-header not updated)' },
  { name: 'NAT_L3_CSUM', stage: 'nat', breaks: 'the IPv4 header checksum misses the address change' },
  { name: 'NAT_PORT_CSUM', stage: 'nat', breaks: 'the L4 checksum misses the port change' },
  { name: 'NAT_DPORT', stage: 'nat', breaks: 'the destination port is not rewritten (endpoint port, full-NAT replies)' },
  { name: 'NAT_UDP_ZERO', stage: 'nat', breaks: 'a zero (absent) UDP checksum is rewritten into a wrong one after an address change' },
  { name: 'NAT_V6_ADDR', stage: 'nat', breaks: 'only the first 8 bytes of an IPv6 address are rewritten' },
  { name: 'NAT_ICMP_INNER', stage: 'nat', breaks: "an ICMP error's embedded source address is not translated" },
  { name: 'NAT_ICMP_CSUM', stage: 'nat', breaks: "a translated ICMP error's ICMP checksum is not updated" },
  { name: 'NAT_ECHO_ID', stage: 'nat', breaks: 'the ICMP echo identifier is not rewritten under full NAT' },
  // fwd
  { name: 'FWD_TTL_DEC', stage: 'fwd', breaks: 'the IPv4 TTL of a packet the LB forwards itself is not decremented', progBlind: EMPTY_FIB },
  {
    name: 'FWD_HOPLIMIT_DEC',
    stage: 'fwd',
    breaks: 'the IPv6 hop limit of a packet the LB forwards itself is not decremented',
    progBlind: EMPTY_FIB,
  },
  { name: 'FWD_SMAC', stage: 'fwd', breaks: 'the source MAC of a redirected packet is not rewritten', progBlind: EMPTY_FIB },
  // policer
  { name: 'POL_NEVER_DROP', stage: 'policer', breaks: 'the policer never drops' },
  { name: 'POL_BURST', stage: 'policer', breaks: 'the policer admits twice the configured burst' },
  // stats
  { name: 'STATS_SVC_FLOWS', stage: 'stats', breaks: "a service's flow count is not bumped" },
  { name: 'STATS_SVC_DROPS', stage: 'stats', breaks: "a service's drop count is not bumped" },
  { name: 'STATS_EP', stage: 'stats', breaks: 'per-endpoint counters are not bumped' },
  { name: 'STATS_BYTES', stage: 'stats', breaks: 'reason, forwarding-result and endpoint byte counts are not bumped' },
  // trace
  { name: 'TRACE_CT_NEW', stage: 'trace', breaks: 'the trace reports the old conntrack state as the new one' },
  { name: 'TRACE_EP_SLOT', stage: 'trace', breaks: 'the trace names the wrong endpoint slot (off by one)' },
  // pipeline
  { name: 'PIPE_FAST_FIN', stage: 'pipeline', breaks: 'the fast path takes FINs: a close does not change the state' },
  { name: 'PIPE_NO_REPLY_ENTRY', stage: 'pipeline', breaks: 'a DNAT flow gets no reply entry: replies pass untranslated' },
  {
    name: 'PIPE_TTL_LIMIT',
    stage: 'pipeline',
    breaks: 'a TTL / hop limit 1 packet is translated and forwarded instead of passed untouched (PASS_TTL)',
  },
  { name: 'PIPE_LC_RELEASE', stage: 'pipeline', breaks: 'a flow reaching TIME_WAIT / CLOSED does not release its least-connection count' },
  {
    name: 'PIPE_SYN_RESELECT',
    stage: 'pipeline',
    breaks: 'a SYN (retransmit or reused tuple) to a removed / inactive endpoint is not re-selected',
  },
  { name: 'PIPE_PEER_STATE', stage: 'pipeline', breaks: 'a state change is not written to the peer entry' },
  {
    name: 'PIPE_PEER_REFRESH',
    stage: 'pipeline',
    breaks: "the fast path does not refresh the peer's last_seen: a one-way stream's other side expires",
  },
  { name: 'PIPE_LOST_SIDE', stage: 'pipeline', breaks: "a flow's lost entry is not rebuilt (one lost side, rule 1)" },
  { name: 'PIPE_ECHO_REPLY', stage: 'pipeline', breaks: 'an ICMP echo reply with no flow is balanced as a new flow instead of passed' },
];

/** The faults named in a comma-separated list (all when undefined); an unknown name throws with the list. */
export function selectFaults(list: string | undefined): Fault[] {
  if (list === undefined) return [...FAULTS];
  const names = list
    .split(',')
    .map((s) => s.trim().replace(/^XLB_FAULT_/, ''))
    .filter((s) => s !== '');
  const unknown = names.filter((n) => !FAULTS.some((f) => f.name === n));
  if (unknown.length > 0 || names.length === 0) {
    throw new Error(
      `--faults ${list}: unknown fault${unknown.length === 1 ? '' : 's'} ${unknown.join(', ') || '(none given)'}; known faults: ${FAULTS.map((f) => f.name).join(', ')}`,
    );
  }
  return names.map((n) => FAULTS.find((f) => f.name === n) as Fault);
}

/** The fault table of docs/mutation.md (between its `<!-- faults -->` markers; mutate.test.ts checks it is this). */
export function faultTableMarkdown(): string {
  return [
    '| fault (`XLB_FAULT_…`) | stage | what it breaks |',
    '|---|---|---|',
    ...FAULTS.map(
      (f) =>
        `| \`${f.name}\` | ${f.stage} | ${f.breaks.replace(/\|/g, '\\|')}${f.progBlind === undefined ? '' : ` (prog-blind: ${f.progBlind})`} |`,
    ),
  ].join('\n');
}
