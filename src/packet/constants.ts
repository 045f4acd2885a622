// Protocol numbers and names shared by the builder, decoder and describe().

export const ETH_P_IPV4 = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_8021AD = 0x88a8;
/** Pre-standard QinQ outer TPID some switches still use. */
export const ETH_P_QINQ_9100 = 0x9100;

export const IPPROTO_HOPOPTS = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ROUTING = 43;
export const IPPROTO_FRAGMENT = 44;
export const IPPROTO_ESP = 50;
export const IPPROTO_AH = 51;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_NONE = 59;
export const IPPROTO_DSTOPTS = 60;

export function isVlanTpid(type: number): boolean {
  return type === ETH_P_8021Q || type === ETH_P_8021AD || type === ETH_P_QINQ_9100;
}

export const IPV4_OPTION_NAMES: Record<number, string> = {
  0: 'eol',
  1: 'nop',
  7: 'rr',
  68: 'timestamp',
  130: 'security',
  131: 'lsrr',
  136: 'stream-id',
  137: 'ssrr',
  148: 'router-alert',
};

export const ICMP4_TYPES: Record<string, number> = {
  'echo-reply': 0,
  'dest-unreachable': 3,
  'source-quench': 4,
  redirect: 5,
  'echo-request': 8,
  'time-exceeded': 11,
  'param-problem': 12,
};

export const ICMP6_TYPES: Record<string, number> = {
  'dest-unreachable': 1,
  'packet-too-big': 2,
  'time-exceeded': 3,
  'param-problem': 4,
  'echo-request': 128,
  'echo-reply': 129,
  'router-solicitation': 133,
  'router-advertisement': 134,
  'neighbor-solicitation': 135,
  'neighbor-advertisement': 136,
};

export const ICMP4_UNREACH_CODES: Record<string, number> = { net: 0, host: 1, protocol: 2, port: 3, 'frag-needed': 4, admin: 13 };
export const ICMP6_UNREACH_CODES: Record<string, number> = { 'no-route': 0, admin: 1, address: 3, port: 4 };

/** ICMP types whose body quotes the offending packet. */
export const ICMP4_ERROR_TYPES = new Set([3, 4, 5, 11, 12]);
export const ICMP6_ERROR_TYPES = new Set([1, 2, 3, 4]);

function invert(m: Record<string, number>): Record<number, string> {
  const out: Record<number, string> = {};
  for (const [k, v] of Object.entries(m)) out[v] = k;
  return out;
}
export const ICMP4_TYPE_NAMES = invert(ICMP4_TYPES);
export const ICMP6_TYPE_NAMES = invert(ICMP6_TYPES);

/** Linux quotes as much of the offending packet as keeps the ICMP error within these sizes. */
export const ICMP4_MAX_ERROR_LEN = 576;
export const ICMP6_MAX_ERROR_LEN = 1280;
