// The ring-buffer trace: off by default, switched on and off at run time through the config map
// (no reload); each event carries the tuple, verdict, reason, conntrack transition and endpoint.
import test from 'ava';
import { RingBuffer } from '../bpf/index.ts';
import { buildFrame } from '../packet/index.ts';
import { CFG_F, CT_STATE, REASON, traceEvent } from '../schema/maps.ts';
import type { TraceEvent } from '../schema/maps.ts';
import { EMPTY_FIB_TABLE, HOOKS, openHarness } from './prog-run.ts';

const VIP = '198.18.100.1';

for (const hook of HOOKS) {
  test(`${hook}: trace events only while switched on, with reason, CT transition and endpoint`, (t) => {
    const h = openHarness(hook);
    const events: TraceEvent[] = [];
    const rb = new RingBuffer(h.dp.maps.trace, (b) => events.push(traceEvent.decode(b)));
    try {
      h.service({
        id: 3,
        vip: VIP,
        port: 80,
        endpoints: [
          { ip: '198.18.1.11', port: 80 },
          { ip: '198.18.1.12', port: 80 },
        ],
      });
      const syn = (sport: number): Buffer => buildFrame({ ip: { src: '198.18.0.10', dst: VIP }, tcp: { sport, dport: 80, flags: 'S' } });
      h.run(syn(1));
      rb.consume();
      t.is(events.length, 0);
      h.config({ flags: CFG_F.fibTable | CFG_F.trace, fib_table: EMPTY_FIB_TABLE });
      h.run(syn(2));
      h.run(buildFrame({ ip: { src: '198.18.0.10', dst: '198.18.9.9' }, udp: { sport: 1, dport: 2 } }));
      rb.consume();
      t.is(events.length, 2);
      const [ev, pass] = events;
      t.is(REASON[ev!.reason], 'new_flow');
      t.is(ev!.svc_id, 3);
      t.is(ev!.key.sport, 2);
      t.is(CT_STATE[ev!.ct_old], 'NONE');
      t.is(CT_STATE[ev!.ct_new], 'SYN_SENT');
      t.true(ev!.ep_slot === 0 || ev!.ep_slot === 1);
      t.is(ev!.hook, hook === 'tc' ? 0 : 1);
      t.is(REASON[pass!.reason], 'pass_no_service');
      t.is(pass!.ep_slot, 0xffff);
      h.config({ flags: CFG_F.fibTable });
      h.run(syn(4));
      rb.consume();
      t.is(events.length, 2);
    } finally {
      rb.close();
      h.close();
    }
  });
}
