import { request } from 'node:https';
import { isIP } from 'node:net';
import {
  AXL_NS_PREFIX,
  AXL_PATH,
  SECURITY_MODE_SQL,
  descendants,
  parseXml,
  soapBody,
  soapEnvelope,
  textOf,
  xmlEscape,
  type AxlOperation,
  type XmlNode,
} from './axl-xml.js';
import { MraError } from '../host/index.js';

/** Where and how to ask one publisher. */
export interface AxlTarget {
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** Verify the publisher's certificate against `ca` and its name (Expressway's "TLS verify mode"). */
  tlsVerify: boolean;
  ca?: string;
  timeoutMs: number;
  /** Aborts the request when the node stops. */
  signal?: AbortSignal;
  /** The local address to connect from (core's source_address); default: the one the route picks. */
  localAddress?: string;
}

/** Why a publisher could not be read; `kind` lets the alarm say what to fix. */
export class DiscoveryError extends MraError {
  constructor(
    readonly kind: 'unreachable' | 'tls' | 'credentials' | 'fault' | 'garbage' | 'timeout',
    message: string,
  ) {
    super(message);
    this.name = 'DiscoveryError';
  }

  get code(): string {
    return `MRA_DISCOVERY_${this.kind.toUpperCase()}`;
  }
}

export interface AxlProcessNode {
  name: string;
  role: string;
}

export interface AxlCallManager {
  node: string;
  sipPort?: number;
  sipTlsPort?: number;
}

// A publisher's answers are a few kilobytes; anything far larger is not AXL.
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|HOSTNAME|ALTNAME|SSL/;

function post(t: AxlTarget, op: AxlOperation, body: string): Promise<XmlNode> {
  return new Promise((resolve, reject) => {
    const auth =
      t.username !== undefined
        ? `Basic ${Buffer.from(`${t.username}:${t.password ?? ''}`).toString('base64')}`
        : undefined;
    const req = request(
      {
        host: t.host,
        port: t.port,
        path: AXL_PATH,
        method: 'POST',
        ca: t.ca,
        rejectUnauthorized: t.tlsVerify,
        servername: isIP(t.host) ? undefined : t.host,
        headers: {
          'content-type': 'text/xml; charset=utf-8',
          soapaction: `"CUCM:DB ver=12.5 ${op}"`,
          ...(auth ? { authorization: auth } : {}),
        },
        timeout: t.timeoutMs,
        signal: t.signal,
        ...(t.localAddress ? { localAddress: t.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES)
            return void req.destroy(
              new DiscoveryError('garbage', `${op}: answer larger than ${MAX_RESPONSE_BYTES} bytes`),
            );
          chunks.push(c);
        });
        res.on('end', () => {
          const xml = Buffer.concat(chunks).toString('utf8');
          const code = res.statusCode ?? 0;
          if (code === 401 || code === 403)
            return reject(
              new DiscoveryError(
                'credentials',
                `${op}: publisher refused the AXL credentials (HTTP ${code}); check the account has the Standard AXL API Access role`,
              ),
            );
          let answer: XmlNode | undefined;
          try {
            answer = soapBody(parseXml(xml));
          } catch (err) {
            if (code !== 200)
              return reject(
                new DiscoveryError('garbage', `${op}: publisher answered HTTP ${code}, not an AXL response`),
              );
            return reject(
              new DiscoveryError('garbage', `${op}: answer is not an AXL envelope: ${(err as Error).message}`),
            );
          }
          if (answer?.local === 'Fault')
            return reject(
              new DiscoveryError(
                'fault',
                `${op}: publisher answered a SOAP fault: ${textOf(answer, 'faultstring') ?? '(no faultstring)'}`,
              ),
            );
          if (code !== 200)
            return reject(new DiscoveryError('garbage', `${op}: publisher answered HTTP ${code}, not an AXL response`));
          if (answer?.local !== `${op}Response` || !answer.ns.startsWith(AXL_NS_PREFIX))
            return reject(new DiscoveryError('garbage', `${op}: answer is not an AXL ${op}Response envelope`));
          resolve(answer);
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(new DiscoveryError('timeout', `${op}: publisher did not answer within ${t.timeoutMs} ms`)),
    );
    req.on('error', (err: Error & { code?: string }) =>
      reject(err instanceof DiscoveryError ? err : describeSocketError(err, t, op)),
    );
    req.end(soapEnvelope(op, body));
  });
}

/**
 * Unity Connection has no AXL: discovery only proves the publisher answers HTTPS (with the certificate
 * check TLS verify asks for). Any HTTP answer counts; the VMREST path is where clients will go.
 */
export function probeHttps(t: AxlTarget, path = '/vmrest/version'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: t.host,
        port: t.port,
        path,
        method: 'GET',
        ca: t.ca,
        rejectUnauthorized: t.tlsVerify,
        servername: isIP(t.host) ? undefined : t.host,
        timeout: t.timeoutMs,
        signal: t.signal,
        ...(t.localAddress ? { localAddress: t.localAddress } : {}),
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () =>
      req.destroy(new DiscoveryError('timeout', `publisher did not answer HTTPS within ${t.timeoutMs} ms`)),
    );
    req.on('error', (err: Error & { code?: string }) =>
      reject(err instanceof DiscoveryError ? err : describeSocketError(err, t, 'connection test')),
    );
    req.end();
  });
}

function describeSocketError(err: Error & { code?: string }, t: AxlTarget, what: string): DiscoveryError {
  if (TLS_CODES.test(err.code ?? ''))
    return new DiscoveryError(
      'tls',
      `${what}: publisher certificate refused (${err.code}: ${err.message}); add its CA to the trusted CAs, or turn TLS verify off`,
    );
  return new DiscoveryError(
    'unreachable',
    `${what}: cannot reach publisher ${t.host}:${t.port}: ${err.code ?? err.message}`,
  );
}

function port(v: string | undefined, what: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw new DiscoveryError('garbage', `${what} "${v}" is not a port number`);
  return n;
}

// Node names become zone names and SIP targets: refuse what could not be a host name.
const NODE_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,253}[A-Za-z0-9])?$/;

/** The cluster's servers. The pseudo-node "EnterpriseWideData" holds cluster-wide settings, not a server. */
export async function listProcessNodes(t: AxlTarget): Promise<AxlProcessNode[]> {
  const xml = await post(
    t,
    'listProcessNode',
    '<searchCriteria><name>%</name></searchCriteria><returnedTags><name/><processNodeRole/></returnedTags>',
  );
  const nodes = descendants(xml, 'processNode').map((n) => ({
    name: textOf(n, 'name') ?? '',
    role: textOf(n, 'processNodeRole') ?? '',
  }));
  for (const n of nodes)
    if (!NODE_NAME.test(n.name))
      throw new DiscoveryError('garbage', `listProcessNode: node name "${n.name.slice(0, 80)}" is not a host name`);
  return nodes.filter((n) => n.name !== 'EnterpriseWideData');
}

/** The SIP line ports of each CallManager service (what the CEtcp/CEtls zones dial). */
export async function listCallManagers(t: AxlTarget): Promise<AxlCallManager[]> {
  const xml = await post(
    t,
    'listCallManager',
    '<searchCriteria><name>%</name></searchCriteria><returnedTags><name/><processNodeName/><ports/></returnedTags>',
  );
  return descendants(xml, 'callManager').map((cm) => ({
    node: textOf(cm, 'processNodeName') ?? '',
    sipPort: port(textOf(cm, 'sipPhonePort'), 'sipPhonePort'),
    sipTlsPort: port(textOf(cm, 'sipPhoneSecuredPort'), 'sipPhoneSecuredPort'),
  }));
}

/** Cluster security mode: 1 is mixed mode (TLS to the phones' SIP ports possible), 0 non-secure. */
export async function readMixedMode(t: AxlTarget): Promise<boolean> {
  const xml = await post(t, 'executeSQLQuery', `<sql>${xmlEscape(SECURITY_MODE_SQL)}</sql>`);
  const value = textOf(xml, 'paramvalue');
  if (value !== '0' && value !== '1')
    throw new DiscoveryError(
      'garbage',
      `executeSQLQuery: ClusterSecurityMode is ${value === undefined ? 'missing' : `"${value.slice(0, 40)}"`}, not 0 or 1`,
    );
  return value === '1';
}

/** The public keys call control signs OAuth tokens with, as JWKs (the HTTPS plane verifies tokens with them). */
export async function listTokenSigningKeys(t: AxlTarget): Promise<Array<Record<string, unknown>>> {
  const xml = await post(t, 'listTokenSigningKey', '<returnedTags><kid/><jwk/></returnedTags>');
  return descendants(xml, 'tokenSigningKey').map((k) => {
    const raw = textOf(k, 'jwk') ?? '';
    let jwk: unknown;
    try {
      jwk = JSON.parse(raw);
    } catch {
      throw new DiscoveryError('garbage', `listTokenSigningKey: key ${textOf(k, 'kid') ?? '?'} is not a JSON JWK`);
    }
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk))
      throw new DiscoveryError('garbage', 'listTokenSigningKey: a key is not a JWK object');
    return { kid: textOf(k, 'kid'), ...(jwk as Record<string, unknown>) };
  });
}
