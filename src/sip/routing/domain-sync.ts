// Core tells the edge its domain table over the SIP traversal channel: a NOTIFY with Event: x-mra-domains
// and a JSON body, answered 200. The edge holds no domain configuration of its own (Expressway-E learns its
// MRA domains from Expressway-C the same way), so until the first NOTIFY it refuses registrations 503.
import { randomBytes } from 'node:crypto';
import { DomainTable } from '../../domains/index.js';
import { SipRequest, fields, generateBranch, generateTag, getParam } from '../message/index.js';

export const DOMAINS_EVENT = 'x-mra-domains';

export function domainNotify(table: DomainTable, fromNode: string, seq: number): Buffer {
  const body = Buffer.from(JSON.stringify(table.toJSON()), 'utf8');
  const req = new SipRequest(
    'NOTIFY',
    'sip:edge.mra.invalid',
    fields([
      ['Via', `SIP/2.0/TLS ${fromNode}.mra.invalid;branch=${generateBranch()};mra-core=self`],
      ['Max-Forwards', '1'],
      ['From', `<sip:${fromNode}.mra.invalid>;tag=${generateTag()}`],
      ['To', '<sip:edge.mra.invalid>'],
      ['Call-ID', `domains-${randomBytes(8).toString('hex')}`],
      ['CSeq', `${seq} NOTIFY`],
      ['Event', DOMAINS_EVENT],
      ['Subscription-State', 'active'],
      ['Content-Type', 'application/json'],
      ['Content-Length', String(body.length)],
    ]),
    body,
  );
  return req.serialize();
}

/** A request in the domain-table event package, whoever wrote it. */
export function isDomainEvent(req: SipRequest): boolean {
  return req.header('event')?.trim().toLowerCase() === DOMAINS_EVENT;
}

/**
 * Core's own domain-table NOTIFY: one Via, core's, marked self. A request relayed from the inside (a client
 * or call control writing the same Event) carries the Vias of every hop before core, so it can never pass
 * for one and rewrite the edge's table.
 */
export function isDomainNotify(req: SipRequest): boolean {
  if (req.method !== 'NOTIFY' || !isDomainEvent(req)) return false;
  const vias = req.vias();
  return vias.length === 1 && getParam(vias[0]!.params, 'mra-core') === 'self';
}
