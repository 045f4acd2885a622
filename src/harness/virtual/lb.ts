// The LB node: every frame its interfaces receive runs through a PacketDatapath first (the TC
// or XDP ingress program: the model on sim, the real BPF program on prog), then:
//   drop      gone (counted as the node's 'datapath_drop'; the trace event says why)
//   pass      the LB node's own stack: delivered locally if addressed to the LB, else forwarded
//             by destination like Linux does (route, TTL, MACs); this is how a translated packet
//             leaves in sim/prog, whose datapaths run with an empty FIB ('pass_fib', see
//             src/datapath/packet-datapath.ts). One exception: a DSR packet keeps the VIP as
//             destination and the program looked the *endpoint* up in the FIB, so when it
//             answers 'pass_fib' for a DSR service the LB forwards toward the endpoint (its MAC,
//             TTL decremented), which is what the program does with a FIB that answers.
//   tx        back out of the interface it came in on, as the program left it
//   redirect  out of the interface the route to its destination names, as the program left it
//             (the program already rewrote MACs and TTL)
// The datapath is always told ifindex 1: the prog backend's BPF_PROG_TEST_RUN needs an existing
// device and has no idea of the virtual interfaces. The interface a frame really arrived on is
// in the captures (each interface has its own) and in `LbEvent.iface`.
// Frames the LB node sends itself (ICMP errors, RSTs of its own stack) do not pass the program:
// TC ingress and XDP only see what arrives.
import type { FrameResult, PacketDatapath } from '../../datapath/packet-datapath.ts';
import type { VNode } from './ip.ts';
import type { VIface } from './link.ts';

/** The ifindex every frame is fed with (see above). */
export const DATAPATH_IFINDEX = 1;

export interface LbEvent {
  iface: VIface;
  result: FrameResult;
}

/**
 * `fibTarget(result)`: the address the program's FIB lookup was about when it is not the
 * packet's destination (the endpoint of a DSR flow), else undefined.
 */
export function attachDatapath(
  node: VNode,
  dp: PacketDatapath,
  onResult: (e: LbEvent) => void,
  fibTarget: (r: FrameResult) => string | undefined = () => undefined,
): void {
  node.ingress = (iface, frame) => {
    // A copy: an implementation may rewrite its input in place, and captures hold the original.
    const result = dp.process(Buffer.from(frame), DATAPATH_IFINDEX);
    onResult({ iface, result });
    switch (result.verdict) {
      case 'drop':
        node.drop('datapath_drop');
        return undefined;
      case 'tx':
        iface.transmit(Buffer.from(result.frame));
        return undefined;
      case 'redirect':
        node.redirect(Buffer.from(result.frame));
        return undefined;
      case 'pass': {
        const out = Buffer.from(result.frame);
        const toward = result.fwd === 'pass_fib' ? fibTarget(result) : undefined;
        if (toward === undefined) return out;
        node.forwardToward(out, toward);
        return undefined;
      }
    }
  };
}
