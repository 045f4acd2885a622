// Default ports of the lab's traffic servers (one process per backend serves all three).
export const SERVER_PORTS = { http: 80, tcp: 7000, udp: 7001 } as const;
