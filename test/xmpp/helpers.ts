import { waitFor } from '../support/log-capture.js';
import { startRig, DOMAIN, EDGE_NAME, type Rig, type RigOptions } from '../http/rig.js';
import { XmppClient, LAB_USERS, type XmppClientOptions } from '../../src/lab/index.js';

export interface XmppEdgeStatus {
  port: number;
  streams: number;
  total: number;
  refused: Record<string, number>;
  streamList: Array<{ jid: string | null; remote: string; since: string; stanzasIn: number; stanzasOut: number }>;
  tunnel: { sessions: number };
}

export const edgeXmpp = (rig: Rig) => (rig.edge.status() as { xmpp: XmppEdgeStatus }).xmpp;
export const coreXmpp = (rig: Rig) =>
  (
    rig.core.status() as {
      xmpp: { streams: number; refused: Record<string, number>; streamList: Array<{ imp: string; remote: string }> };
    }
  ).xmpp;

/** The http rig (edge, core, lab inside with its IM&P) with the xmpp tunnel and the edge's domain table up. */
export async function startXmppRig(opts: RigOptions = {}): Promise<Rig> {
  const rig = await startRig(opts);
  await waitForXmppReady(rig);
  return rig;
}

export async function waitForXmppReady(rig: Rig): Promise<void> {
  await waitFor('xmpp tunnel up', () => edgeXmpp(rig).tunnel.sessions === 1, 15_000);
  await waitFor(
    'domain table at the edge',
    () => ((rig.edge.status() as { sip: { domains: number | null } }).sip.domains ? true : undefined),
    15_000,
  );
}

export const [MDUDE, JDOE] = [LAB_USERS[0]!, LAB_USERS[1]!];

export function client(
  rig: Rig,
  user: { id: string; password: string },
  more: Partial<XmppClientOptions> = {},
): XmppClient {
  return new XmppClient({
    host: '127.0.0.1',
    port: edgeXmpp(rig).port,
    servername: EDGE_NAME,
    ca: rig.ca,
    domain: DOMAIN,
    user: user.id,
    password: user.password,
    ...more,
  });
}

/** Maintenance mode on a node through its admin API, as an operator turns it on. */
export async function setMaintenance(node: { ports: Record<string, number> }, on: boolean): Promise<void> {
  const { request } = await import('undici');
  const r = await request(`http://127.0.0.1:${node.ports.admin}/api/maintenance`, {
    method: 'POST',
    body: JSON.stringify({ on }),
    headers: { 'content-type': 'application/json' },
  });
  await r.body.text();
  if (r.statusCode !== 200) throw new Error(`maintenance: HTTP ${r.statusCode}`);
}
