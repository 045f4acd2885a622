// Topologies from files (YAML or JSON: YAML is a superset) or by built-in name.
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { BUILTINS, builtinTopology } from '../src/topology/builtins.ts';
import type { BuiltinParams } from '../src/topology/builtins.ts';
import { validateTopology } from '../src/topology/topology.ts';
import type { TopologySpec } from '../src/topology/topology.ts';

/** Parses and validates a topology file (the TopologySpec shape, see docs/lab.md). */
export function loadTopologyFile(file: string): TopologySpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read topology file '${file}': ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new Error(`topology file '${file}' is not valid YAML/JSON: ${(e as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new Error(`topology file '${file}' must hold a mapping with name, nodes and segments (see docs/lab.md)`);
  }
  const spec = doc as TopologySpec;
  try {
    validateTopology(spec);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  return spec;
}

/** A built-in name (with params) or a path to a .yaml/.yml/.json file. */
export function topologyFromArg(arg: string, params: Partial<BuiltinParams> = {}): TopologySpec {
  if (BUILTINS[arg] !== undefined) return builtinTopology(arg, params);
  if (/\.(ya?ml|json)$/i.test(arg) || existsSync(arg)) {
    if (Object.keys(params).length > 0) {
      throw new Error(`--clients/--backends/--no-ipv6/--offload/--mtu apply to built-in topologies only; edit '${arg}' instead`);
    }
    return loadTopologyFile(arg);
  }
  throw new Error(`unknown topology '${arg}': use one of ${Object.keys(BUILTINS).join(', ')} or a .yaml/.json file`);
}
