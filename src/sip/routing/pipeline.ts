// The steps a request takes through a node, the same at the edge and at core: admission (the domain is served for
// SIP, a new registration fits, maintenance mode, capacity.calls), the call model (the request's leg, its SDP
// rewritten by the node's media policy), and recording what was forwarded. Each node supplies its policies: which
// Routes it accepts, where the request goes, what it records in it (edge-proxy.ts, core-proxy.ts).
import type { DomainEntry } from '../../domains/index.js';
import { tagOf, type SipRequest } from '../message/index.js';
import type { CallMedia, MediaPolicy } from '../b2bua/index.js';
import { hostOf } from './hop.js';
import { REFUSED_ADMISSION, requestedExpires, type Admission, type RegistrationCounter } from './registrations.js';
import type { CallTable, OpenedLeg } from './calls.js';

/** Why a node will not forward a request: its answer. */
export interface Refusal {
  status: number;
  text: string;
  headers?: Array<[string, string]>;
}

const RETRY_AFTER: [string, string] = ['Retry-After', '5'];
/** A new call beyond capacity.calls: 503 with Retry-After, whichever side sent the INVITE. */
export const CAPACITY_REACHED: Refusal = { status: 503, text: 'Call capacity reached', headers: [RETRY_AFTER] };

export const isRefusal = (v: object): v is Refusal => 'status' in v;

/** A request admitted; a REGISTER with the expiry it asks and the key its registration is counted by. */
export interface Admitted {
  domain: DomainEntry;
  registration?: { expires: number; key: string };
}

export interface AdmissionRules {
  /** The domains this node serves (the edge: core's table, once it came). */
  lookup(domain: string): DomainEntry | undefined;
  registrations: RegistrationCounter;
  calls: CallTable;
  /** Maintenance mode, read as the request arrives. */
  maintenance: boolean;
  /** The registration's count key (its correlation id). */
  registrationKey(): string;
}

/**
 * The domain (the REGISTER's request-URI, else From's host) must be one this node serves with "SIP registrations"
 * on; a new registration must fit (capacity.registrations, maintenance mode); a new call must fit (maintenance mode,
 * capacity.calls). In that order at both nodes, with the same answers (docs/sip.md "What the edge refuses").
 */
export function admit(req: SipRequest, rules: AdmissionRules): Admitted | Refusal | Promise<Admitted | Refusal> {
  const name = req.method === 'REGISTER' ? hostOf(req.uri) : hostOf(req.from().uri);
  const domain = name ? rules.lookup(name) : undefined;
  if (!domain) return { status: 404, text: `Domain not served: ${name ?? 'none'}` };
  if (!domain.sip_registrations) return { status: 403, text: `SIP registrations not enabled for ${domain.name}` };
  if (req.method === 'REGISTER') {
    const contacts = req.contacts();
    const expires = requestedExpires(contacts === '*' ? '*' : (contacts[0]?.params ?? []), req.header('expires'));
    const key = rules.registrationKey();
    const decide = (admission: Admission): Admitted | Refusal =>
      admission === 'ok' ? { domain, registration: { expires, key } } : REFUSED_ADMISSION[admission];
    // An in-process store answers at once: no promise on the way (registrations.ts).
    const admission = expires > 0 ? rules.registrations.admit(key, rules.maintenance) : 'ok';
    return typeof admission === 'string' ? decide(admission) : admission.then(decide);
  }
  if (rules.maintenance && req.method === 'INVITE' && !tagOf(req.to()))
    return { status: 503, text: 'Maintenance mode: new calls refused' };
  if (rules.calls.atCapacity(req)) return CAPACITY_REACHED;
  return { domain };
}

/** The leg a request is forwarded for, opened before it leaves so its SDP is rewritten for it. */
export interface Carried {
  opened: OpenedLeg | undefined;
}

/**
 * The call-model step: the request's leg (an INVITE out of a dialog opens one) and its offer rewritten by `policy`.
 * A refused offer leaves no leg or relay behind (a refused re-INVITE leaves the call as it was).
 */
export function carry(
  req: SipRequest,
  calls: CallTable,
  media: CallMedia | undefined,
  towardClient: boolean,
  flow: string | null,
  policy: () => MediaPolicy,
): Carried | Refusal {
  const opened = calls.legFor(req, towardClient, flow);
  const offer = media?.offer(req, opened?.leg, policy);
  if (offer?.fault) {
    calls.unsent(opened);
    return offer.fault;
  }
  return { opened };
}

/** After the send: a request that left is recorded in its leg (BYE ends it, ACK confirms it); one that did not is let go. */
export function forwarded(
  req: SipRequest,
  calls: CallTable,
  carried: Carried,
  sent: boolean,
  towardClient: boolean,
  flow: string | null = null,
): void {
  if (sent) calls.request(req, towardClient, flow, carried.opened?.leg);
  else calls.unsent(carried.opened);
}
