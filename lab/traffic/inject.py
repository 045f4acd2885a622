#!/usr/bin/env python3
"""Raw frame injection for the xlb lab: sends crafted Ethernet frames on an interface through an
AF_PACKET socket, for what no socket API would send (bad checksums, truncated headers, VLAN tags,
a mid-stream ACK without a handshake). Node has no AF_PACKET socket; python3 has, and is already
one of xlb's Debian packages.

    python3 lab/traffic/inject.py IFNAME [--interval-ms N] < frames

stdin: one frame per line, as hex (the TypeScript side builds them with the packet toolkit).
stdout: one JSON line {"sent": N, "bytes": M}. Exit 2 on bad input, 1 on a send error.
"""
import json
import socket
import sys
import time


def main() -> int:
    args = sys.argv[1:]
    if not args or args[0].startswith('-'):
        print('usage: inject.py IFNAME [--interval-ms N] < hex frames, one per line', file=sys.stderr)
        return 2
    ifname = args[0]
    interval = 0.0
    if len(args) == 3 and args[1] == '--interval-ms':
        interval = float(args[2]) / 1000.0
    elif len(args) != 1:
        print('inject.py: unknown arguments %r (allowed: --interval-ms N)' % args[1:], file=sys.stderr)
        return 2
    frames = []
    for n, line in enumerate(sys.stdin, 1):
        line = line.strip()
        if not line:
            continue
        try:
            frames.append(bytes.fromhex(line))
        except ValueError:
            print('inject.py: line %d is not hex' % n, file=sys.stderr)
            return 2
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        sock.bind((ifname, 0))
    except OSError as e:
        print('inject.py: cannot open AF_PACKET on %s: %s (does the interface exist in this namespace? are we root?)' % (ifname, e), file=sys.stderr)
        return 1
    sent = 0
    total = 0
    for i, f in enumerate(frames):
        if i > 0 and interval > 0:
            time.sleep(interval)
        try:
            total += sock.send(f)
            sent += 1
        except OSError as e:
            print('inject.py: frame %d (%d bytes) not sent: %s' % (i, len(f), e), file=sys.stderr)
            print(json.dumps({'sent': sent, 'bytes': total}))
            return 1
    print(json.dumps({'sent': sent, 'bytes': total}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
