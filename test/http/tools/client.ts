// A remote Jabber client for the namespace test: signs in through the edge with Basic credentials or with a
// token got from call control (password grant, through the edge), then runs the seeds' sequence. Prints one
// JSON line per step ({step, status, body, setCookie}) and {"event":"done"}; the test checks the answers.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { encodeServiceRoute } from '../../../src/http/index.js';

interface Args {
  edge: string;
  port: number;
  ca: string;
  servername: string;
  domain: string;
  inside: string;
  ports: { uds: number; tftp: number; voicemail: number };
  user: string;
  password: string;
  mode: 'basic' | 'token';
}
const a = JSON.parse(process.argv[2] ?? '{}') as Args;
const agent = new Agent({ connect: { ca: readFileSync(a.ca, 'utf8'), servername: a.servername } });
const base = `https://${a.edge}:${a.port}`;
const basic = `Basic ${Buffer.from(`${a.user}:${a.password}`).toString('base64')}`;
const route = (scheme: 'http' | 'https', port: number) => encodeServiceRoute(a.domain, scheme, a.inside, port);

async function step(
  name: string,
  path: string,
  headers: Record<string, string>,
  method = 'GET',
  body?: string,
): Promise<{ status: number; text: string; setCookie: unknown }> {
  const r = await request(base + path, {
    dispatcher: agent,
    method: method as 'GET',
    headers,
    ...(body !== undefined ? { body } : {}),
  });
  const text = await r.body.text();
  process.stdout.write(
    `${JSON.stringify({ step: name, status: r.statusCode, body: text, setCookie: r.headers['set-cookie'] ?? null })}\n`,
  );
  return { status: r.statusCode, text, setCookie: r.headers['set-cookie'] };
}

const uds = route('https', a.ports.uds);
let auth: Record<string, string> = { authorization: basic };
if (a.mode === 'token') {
  const form = new URLSearchParams({ grant_type: 'password', username: a.user, password: a.password }).toString();
  const t = await step(
    'token',
    `/${uds}/ssosp/oauth/token`,
    { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    'POST',
    form,
  );
  auth = { authorization: `Bearer ${(JSON.parse(t.text) as { access_token: string }).access_token}` };
}
// Jabber sends the routing segment unpadded (seed 002).
const domainSegment = Buffer.from(a.domain).toString('base64').replace(/=+$/, '');
const cfg = await step(
  'get_edge_config',
  `/${domainSegment}/get_edge_config?service_name=_cisco-uds&service_name=_cuplogin`,
  auth,
);
// After a Basic sign-in the X-Auth session carries the rest; a token client keeps sending its token.
const session = /X-Auth=[0-9a-f-]{36}/.exec(String(cfg.setCookie))?.[0];
if (a.mode === 'basic' && session) auth = { cookie: session };
await step('clusterUser', `/${uds}/cucm-uds/clusterUser?username=${a.user}`, auth);
await step('servers', `/${uds}/cucm-uds/servers`, auth);
await step('user', `/${uds}/cucm-uds/user/${a.user}`, auth);
await step('devices', `/${uds}/cucm-uds/user/${a.user}/devices`, auth);
await step('cnf', `/${route('http', a.ports.tftp)}/CSF${a.user.toUpperCase()}.cnf.xml`, auth);
await step('jabber-config', `/${route('http', a.ports.tftp)}/jabber-config.xml`, auth);
const soap = `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><login><username>${a.user}</username><password>${a.password}</password></login></soapenv:Body></soapenv:Envelope>`;
await step('EPASSoap', `/${uds}/EPASSoap/service/v80`, { ...auth, 'content-type': 'text/xml' }, 'POST', soap);
await step('voicemail', `/${route('https', a.ports.voicemail)}/vmrest/mailbox`, { authorization: basic });
process.stdout.write(`${JSON.stringify({ event: 'done' })}\n`);
await agent.close();
