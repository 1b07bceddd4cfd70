// Builds a topology, prints its namespace names as one JSON line and then waits to be killed: the test of
// leftover cleanup needs a run that dies without destroy() or its exit hook, as a SIGKILLed test file does.
import { createTopology } from '../index.js';

const prefix = process.argv[2];
if (!prefix) {
  process.stderr.write('usage: hold-topology PREFIX\n');
  process.exit(2);
}
const t = await createTopology(prefix);
if ('skip' in t) {
  process.stderr.write(`hold-topology: ${t.skip}\n`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify([t.internet.ns, t.dmz.ns, t.inside.ns])}\n`);
setInterval(() => {}, 60_000);
