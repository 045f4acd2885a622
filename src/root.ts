// The repository root, the same answer whether this module runs from its TypeScript source
// (src/root.ts, under tsx or ava) or compiled (dist/src/root.js, what the `xlb` launcher runs).
// Every path to a file of the checkout (build/bpf, scenarios/, node_modules, the addon, the
// launcher) is built from ROOT, never from a module's own location, which differs in dist/.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const up = path.resolve(here, '..');

export const ROOT = path.basename(up) === 'dist' ? path.dirname(up) : up;

/** True when this process runs the compiled JavaScript in dist/. */
export const COMPILED = path.basename(up) === 'dist';
