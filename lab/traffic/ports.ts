// Default ports of the lab's traffic servers: defined with the traffic types.
export { SERVER_PORTS } from '../../src/traffic/types.ts';
