import type { IncomingMessage, ServerResponse } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import {
  AXL_PATH,
  SECURITY_MODE_SQL,
  requestOperation,
  soapEnvelope,
  soapFault,
  textOf,
  xmlEscape,
  type AxlOperation,
  type XmlNode,
} from '../discovery/index.js';

/**
 * The lab publisher's answers to discovery: the AXL-style subset of docs/discovery.md, read from a cluster
 * description the lab (and tests) may change at any time: remove a node, flip mixed mode, then refresh.
 */
export interface LabClusterNode {
  name: string;
  /** processNodeRole; call control is "CUCM Voice/Video". */
  role?: string;
  sipPort?: number;
  sipTlsPort?: number;
}

export interface LabCluster {
  nodes: LabClusterNode[];
  mixedMode: boolean;
  tokenKeys: Array<{ kid: string; jwk: Record<string, unknown> }>;
  username: string;
  password: string;
  /** Test hooks: answer every request with this instead (a broken or hostile publisher). */
  misbehave?: 'garbage' | 'silent' | 'fault';
  /** Test hook: answer this many milliseconds late (a slow publisher, so a refresh stays running). */
  delayMs?: number;
}

const MAX_BODY = 64 * 1024;

export const LAB_AXL_CREDENTIALS = { username: 'axladmin', password: 'lab-axl-password' } as const;

/** One call-control node at `address`, non-secure, signing tokens with `keys` (default: a fresh ES256 key). */
export function labCluster(address: string, keys?: Array<Record<string, unknown>>): LabCluster {
  const jwks = keys ?? [
    {
      ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }),
      kid: 'lab-cucm-1',
      alg: 'ES256',
      use: 'sig',
    },
  ];
  return {
    nodes: [{ name: address, role: 'CUCM Voice/Video', sipPort: 5060, sipTlsPort: 5061 }],
    mixedMode: false,
    tokenKeys: jwks.map((jwk) => ({ kid: String(jwk.kid ?? 'lab-cucm-1'), jwk })),
    ...LAB_AXL_CREDENTIALS,
  };
}

function reply(res: ServerResponse, code: number, xml: string): void {
  res.writeHead(code, { 'content-type': 'text/xml; charset=utf-8', 'content-length': Buffer.byteLength(xml) });
  res.end(xml);
}

function answer(cluster: LabCluster, op: AxlOperation, body: XmlNode): string {
  const ret = (inner: string) => soapEnvelope(op, `<return>${inner}</return>`, true);
  switch (op) {
    case 'listProcessNode':
      return ret(
        [
          '<processNode><name>EnterpriseWideData</name><processNodeRole>CUCM Voice/Video</processNodeRole></processNode>',
          ...cluster.nodes.map(
            (n) =>
              `<processNode><name>${xmlEscape(n.name)}</name><processNodeRole>${xmlEscape(n.role ?? 'CUCM Voice/Video')}</processNodeRole></processNode>`,
          ),
        ].join(''),
      );
    case 'listCallManager':
      return ret(
        cluster.nodes
          .map(
            (n) =>
              `<callManager><name>CM_${xmlEscape(n.name)}</name><processNodeName>${xmlEscape(n.name)}</processNodeName><ports><sipPorts><sipPhonePort>${n.sipPort ?? 5060}</sipPhonePort><sipPhoneSecuredPort>${n.sipTlsPort ?? 5061}</sipPhoneSecuredPort></sipPorts></ports></callManager>`,
          )
          .join(''),
      );
    case 'executeSQLQuery':
      if (textOf(body, 'sql') !== SECURITY_MODE_SQL)
        throw new Error('the lab publisher answers only the ClusterSecurityMode query');
      return ret(`<row><paramvalue>${cluster.mixedMode ? 1 : 0}</paramvalue></row>`);
    case 'listTokenSigningKey':
      return ret(
        cluster.tokenKeys
          .map(
            (k) =>
              `<tokenSigningKey><kid>${xmlEscape(k.kid)}</kid><jwk>${xmlEscape(JSON.stringify(k.jwk))}</jwk></tokenSigningKey>`,
          )
          .join(''),
      );
  }
}

function authorized(req: IncomingMessage, cluster: LabCluster): boolean {
  const want = `Basic ${Buffer.from(`${cluster.username}:${cluster.password}`).toString('base64')}`;
  return req.headers.authorization === want;
}

/** Handles POST /axl/ on the lab's call-control HTTPS server; returns false for any other path. */
export function handleAxl(cluster: LabCluster, req: IncomingMessage, res: ServerResponse): boolean {
  if ((req.url ?? '').split('?')[0] !== AXL_PATH) return false;
  if (cluster.misbehave === 'silent') return true; // never answers: the caller's timeout is what is tested
  if (cluster.delayMs) {
    const ms = cluster.delayMs;
    setTimeout(() => handleAxl({ ...cluster, delayMs: 0 }, req, res), ms);
    return true;
  }
  if (req.method !== 'POST') return (reply(res, 405, soapFault('AXL takes POST')), true);
  if (!authorized(req, cluster)) {
    res.writeHead(401, { 'www-authenticate': 'Basic realm="Cisco AXL"' });
    return (res.end(), true);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= MAX_BODY) chunks.push(c);
  });
  req.on('end', () => {
    if (cluster.misbehave === 'garbage')
      return reply(res, 200, '<html><body>Service Temporarily Unavailable</body></html>');
    if (cluster.misbehave === 'fault') return reply(res, 500, soapFault('Database is not available'));
    if (size > MAX_BODY) return reply(res, 413, soapFault('request too large'));
    const request = requestOperation(Buffer.concat(chunks).toString('utf8'));
    if (!request) return reply(res, 500, soapFault('operation not in the lab publisher subset'));
    try {
      reply(res, 200, answer(cluster, request.op, request.body));
    } catch (err) {
      reply(res, 500, soapFault((err as Error).message));
    }
  });
  return true;
}
