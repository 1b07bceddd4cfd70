// Two remote users in one process (the internet host of the namespace test): both sign in over XMPP through
// the edge, see each other's presence, and one sends the other a message. Argument: JSON options.
// Prints one JSON line per step and {"event":"done"} (or {"event":"failed","error":...}).
import { x } from '../../../src/xmpp/index.js';
import { XmppClient, LAB_USERS } from '../../../src/lab/index.js';

const o = JSON.parse(process.argv[2] ?? '{}') as {
  edge: string;
  port: number;
  ca: string;
  servername: string;
  domain: string;
};
const say = (v: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(v)}\n`);
const [a, b] = LAB_USERS.slice(0, 2).map(
  (u, i) =>
    new XmppClient({
      host: o.edge,
      port: o.port,
      servername: o.servername,
      ca: o.ca,
      domain: o.domain,
      user: u.id,
      password: u.password,
      resource: `ns-${i}`,
      timeoutMs: 10_000,
    }),
);
try {
  say({ step: 'bound', jid: await a!.connect() });
  say({ step: 'bound', jid: await b!.connect() });
  a!.send(x('presence'));
  b!.send(x('presence'));
  say({ step: 'presence', from: (await b!.waitFor((el) => el.is('presence') && el.attrs.from === a!.jid)).attrs.from });
  a!.send(x('message', { to: b!.jid!.split('/')[0], type: 'chat' }, x('body', {}, 'hello from the internet')));
  const m = await b!.waitFor((el) => el.is('message'));
  say({ step: 'message', from: m.attrs.from, body: m.child('body')?.text });
  await a!.close();
  await b!.close();
  say({ event: 'done' });
} catch (err) {
  say({ event: 'failed', error: (err as Error).message });
  process.exitCode = 1;
}
