// What a scenario module imports: `import { scenario, backendEndpoints, twoArm } from '../../src/harness/index.ts'`.
export { scenario, backendEndpoints } from './scenario.ts';
export type { Scenario, ScenarioContext, ScenarioDef } from './scenario.ts';
export { twoArm, oneArm, topoInfo } from './topo.ts';
export type { TopoInfo } from './topo.ts';
export type { FlowSelector, PacketExpectation, NoPacketExpectation, SpreadSpec } from './expect.ts';
export { flowEntries, flowEvents, stateSequence } from './expect.ts';
export type { ServiceInput, Observation, LinkCapture } from './world.ts';
export { SERVER_PORTS } from '../traffic/types.ts';
