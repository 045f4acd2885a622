// `xlb agent` as a program of its own. The launcher runs this file's bundle (dist/agent/main.js,
// built by scripts/build.sh js with esbuild: the agent and its packages in a few files) instead
// of dist/src/cli.js: most of the agent's start-up was node finding, reading and linking
// ~1,100 module files one at a time (typebox alone is 709), which one bundled file avoids. The
// same main() as `xlb agent` through src/cli.ts, with the same handling of a closed stdout.
import { runProgram } from '../cli-kit.ts';
import { main } from './cli.ts';

runProgram('xlb agent', main);
