// "SIP Path headers: off" (Expressway's older behaviour, for a registrar without RFC 3327): instead of adding
// itself to Path, core rewrites each Contact of a REGISTER to a URI of its own and takes the edge's Path off,
// so call control sees core as the client and sends requests for it to core, which puts the client's real
// Contact back and routes them along the edge's Path again. The mapping lives in the Store as long as the
// binding.
import { createHash } from 'node:crypto';
import type { Store } from '../../store/index.js';
import {
  formatNameAddr,
  formatUri,
  parseUri,
  type SipMessage,
  type SipRequest,
  type SipUri,
} from '../message/index.js';
import type { SipConnection } from '../transport/index.js';
import { requestedExpires } from './registrations.js';

const NS = 'sip-contacts';
const PREFIX = 'mra-c-';
/** The mapping outlives the binding a little, so a request racing a refresh still resolves. */
const GRACE_MS = 60_000;

/** What core keeps per rewritten Contact: the client's own, and the Path the edge wrote (its flow). */
interface Stand {
  contact: string;
  path: string[];
}

export class ContactRewriter {
  constructor(private readonly store: Store) {}

  async rewrite(req: SipRequest, conn: SipConnection): Promise<void> {
    const contacts = req.contacts();
    if (contacts === '*' || contacts.length === 0) return;
    const path = req.headerList('path');
    req.removeHeader('path');
    const out: string[] = [];
    for (const c of contacts) {
      const original = formatUri(c.uri);
      const key = createHash('sha1').update(`${original}|${req.callId()}`).digest('base64url').slice(0, 20);
      const ttl = requestedExpires(c.params, req.header('expires')) * 1000 + GRACE_MS;
      await this.store.set<Stand>(NS, key, { contact: original, path }, ttl);
      const mine: SipUri = {
        kind: 'sip',
        scheme: 'sip',
        user: `${PREFIX}${key}`,
        password: null,
        host: conn.localAddress,
        port: conn.localPort,
        params: [{ name: 'transport', value: conn.transport }],
        headers: null,
      };
      out.push(formatNameAddr({ ...c, uri: mine, angle: true }));
    }
    req.setHeader('contact', out.join(', '));
  }

  /** In a REGISTER's 2xx, the bindings go back to the client as it wrote them. */
  async restore(res: SipMessage): Promise<void> {
    if (!res.has('contact')) return;
    const contacts = res.contacts();
    if (contacts === '*') return;
    const out: string[] = [];
    for (const c of contacts) {
      const original = await this.#stand(c.uri);
      out.push(formatNameAddr(original ? { ...c, uri: parseUri(original.contact), angle: true } : c));
    }
    res.setHeader('contact', out.join(', '));
  }

  /**
   * A request to a rewritten Contact gets the client's own Contact back as its Request-URI and the edge's
   * Path as its Route (RFC 3327 §5.3: the route set a registrar would have used). False when the URI is not
   * one of core's stand-ins, or its binding is gone.
   */
  async resolve(req: SipRequest): Promise<boolean> {
    const stand = await this.#stand(req.uri);
    if (!stand) return false;
    req.uri = parseUri(stand.contact);
    for (const p of [...stand.path].reverse()) req.addHeader('route', p, 'top');
    return true;
  }

  /** A URI core wrote in place of a client's Contact (whether or not its binding still lives). */
  static isStandIn(uri: SipRequest['uri']): boolean {
    return uri.kind === 'sip' && uri.user?.startsWith(PREFIX) === true;
  }

  async #stand(uri: SipRequest['uri']): Promise<Stand | undefined> {
    if (uri.kind !== 'sip' || !ContactRewriter.isStandIn(uri)) return undefined;
    return this.store.get<Stand>(NS, (uri.user ?? '').slice(PREFIX.length));
  }
}
