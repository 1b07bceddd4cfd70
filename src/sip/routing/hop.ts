// What both proxies do at each hop: answer with a reason that names the fault, answer even a message that
// did not parse (from its raw Via/From/To/Call-ID/CSeq lines), and stamp and recognise their own Via.
import { randomBytes } from 'node:crypto';
import { errorCode } from '../../host/index.js';
import type { Logger } from '../../log/index.js';
import {
  MAGIC_COOKIE,
  SipError,
  type SipRequest,
  createResponse,
  decrementMaxForwards,
  formatVia,
  getParam,
  parseMessage,
  reasonPhrase,
  type ParseLimits,
  type NameAddr,
  type SipMessage,
  type SipResponse,
  type Via,
} from '../message/index.js';

/** Parser limits below the transport's framing limits, so a too-large message is cut cleanly and gets 513. */
export const PROXY_PARSE_LIMITS = { maxHeaderBytes: 16384, maxHeaders: 128, maxBodyBytes: 65536 } as const;

/** A response whose Reason header (RFC 3326) says why, so a client's log shows the edge's verdict. */
export function answer(req: SipRequest, status: number, text?: string, headers: Array<[string, string]> = []): Buffer {
  const extra: Array<[string, string]> = [...headers];
  if (text) extra.push(reasonHeader(status, text));
  return createResponse(req, status, { headers: extra }).serialize();
}

/** `Reason: SIP;cause=<status>;text="<text>"` (RFC 3326). */
export function reasonHeader(status: number, text: string): [string, string] {
  return ['Reason', `SIP;cause=${status};text="${text.replace(/["\\\r\n]/g, '')}"`];
}

/** A handler that failed past its own answers is a bug: logged, and the node goes on serving. */
export function logFailure(log: Logger, done: void | Promise<void>, what: string): void {
  done?.catch((err: Error) => log.error({ code: errorCode(err), err: err.message }, what));
}

export function answerError(req: SipRequest, err: SipError): Buffer {
  return createResponse(req, err.status, { reason: err.reason }).serialize();
}

const COPIED = /^(via|v|from|f|to|t|call-id|i|cseq)[ \t]*:/i;

/**
 * The answer to bytes that did not parse: built from the lines a response must echo. Null when the bytes
 * are a response, or lack a Via to send the answer along (nothing can be answered then; the caller logs).
 */
export function rawAnswer(
  data: Buffer,
  status: number,
  reason: string,
  headers: Array<[string, string]> = [],
): Buffer | null {
  const end = data.indexOf('\r\n\r\n');
  const head = data.toString('latin1', 0, end < 0 ? Math.min(data.length, 16384) : end);
  const lines = head.split('\r\n');
  if (lines[0]?.startsWith('SIP/')) return null;
  const copied = lines.slice(1).filter((l) => COPIED.test(l) && l.length < 2048);
  if (!copied.some((l) => /^(via|v)[ \t]*:/i.test(l))) return null;
  const phrase = reason.replace(/[\r\n]/g, ' ') || reasonPhrase(status);
  const extra = headers.map(([name, value]) => `${name}: ${value}\r\n`).join('');
  return Buffer.from(
    `SIP/2.0 ${status} ${phrase}\r\n${copied.join('\r\n')}\r\n${extra}Content-Length: 0\r\n\r\n`,
    'latin1',
  );
}

/**
 * How much of a message a hop checks before acting on it. 'all': every header this layer understands (what
 * comes from outside the pair). 'requests': a request whole, a response only as its handler reads it (a proxy
 * passes a response on by its top Via; the far end checks the rest). 'none': framing and the start line,
 * the rest as read (what the other node of the pair sends: it checked the message on the way in).
 */
export type HopCheck = 'all' | 'requests' | 'none';

/** What the parser checks at once for each HopCheck; validate() then adds the rest for what is checked whole. */
const ESSENTIALS: Record<HopCheck, boolean | 'requests'> = { all: true, requests: 'requests', none: false };

export interface HopParseOptions {
  limits?: Partial<ParseLimits>;
  check?: HopCheck;
}

/**
 * Parses and checks one framed message. A fault (SipError) is reported to `refused` (the caller's log and
 * counters), answered along the raw Via where the bytes allow it, and yields undefined; anything else throws.
 */
export function parseOrAnswer(
  data: Buffer,
  send: (reply: Buffer) => void,
  refused: (err: SipError) => void,
  opts: HopParseOptions = {},
): SipMessage | undefined {
  const check = opts.check ?? 'all';
  try {
    const msg = parseMessage(data, { stream: true, limits: opts.limits, essentials: ESSENTIALS[check] });
    if (check === 'all' || (check === 'requests' && msg.isRequest)) msg.validate();
    return msg;
  } catch (err) {
    return void answerFault(data, err, send, refused);
  }
}

/**
 * parseOrAnswer, then `handle`: a header found malformed only when the handler reads it (a message not
 * checked whole) is answered and reported the same way, never thrown past the hop.
 */
export function handleOrAnswer(
  data: Buffer,
  send: (reply: Buffer) => void,
  refused: (err: SipError) => void,
  opts: HopParseOptions,
  handle: (msg: SipMessage) => void | Promise<void>,
): void | Promise<void> {
  const msg = parseOrAnswer(data, send, refused, opts);
  if (!msg) return;
  try {
    const done = handle(msg);
    if (done instanceof Promise) return done.catch((err: unknown) => answerFault(data, err, send, refused));
  } catch (err) {
    answerFault(data, err, send, refused);
  }
}

function answerFault(
  data: Buffer,
  err: unknown,
  send: (reply: Buffer) => void,
  refused: (err: SipError) => void,
): void {
  if (!(err instanceof SipError)) throw err;
  refused(err);
  const reply = rawAnswer(data, err.status, err.reason);
  if (reply) send(reply);
}

/** Counts this hop down (RFC 3261 §16.6 step 3): the fault (483, or 400 for a bad value) to answer, if any. */
export function hopFault(req: SipRequest): SipError | undefined {
  try {
    decrementMaxForwards(req);
    return undefined;
  } catch (err) {
    if (err instanceof SipError) return err;
    throw err;
  }
}

/** Drawn at start: branches cannot be predicted (or collided on purpose) from outside the process. */
const BRANCH_SEED = randomBytes(8);
const BRANCH_SEED_A = BRANCH_SEED.readUInt32LE(0);
const BRANCH_SEED_B = BRANCH_SEED.readUInt32LE(4);

/**
 * A stateless proxy's branch: the same request (a retransmission) always gets the same one (RFC 3261 §16.11),
 * and different requests different ones. A seeded 60-bit hash in JS: OpenSSL's SHA-1 cost a provider look-up
 * per call, about 5 % of core's CPU, for uniqueness that 60 unpredictable bits give as well.
 */
export function statelessBranch(msg: SipMessage, salt: string): string {
  const top = msg.topVia();
  return `${MAGIC_COOKIE}${shortHash(`${getParam(top.params, 'branch') ?? ''}|${top.host}|${top.port ?? ''}|${salt}`, BRANCH_SEED_A, BRANCH_SEED_B)}`;
}

export function viaValue(
  transport: string,
  host: string,
  port: number | null,
  params: Array<[string, string]>,
): string {
  const via: Via = {
    protocolName: 'SIP',
    protocolVersion: '2.0',
    transport: transport.toUpperCase(),
    host,
    port,
    params: params.map(([name, value]) => ({ name, value })),
  };
  return formatVia(via);
}

/** Our own Via on top of a response, or null when the top Via is someone else's (the response is not ours). */
export function ownTopVia(msg: SipMessage, marker: string): Via | null {
  if (!msg.has('via')) return null;
  const top = msg.topVia();
  return getParam(top.params, marker) !== undefined ? top : null;
}

export function hostOf(uri: SipRequest['uri']): string | undefined {
  return uri.kind === 'sip' ? uri.host : undefined;
}

/** The address of record a REGISTER (or its response) is about: user@host of To, lower case. */
export function aorOf(msg: SipMessage): string {
  return addressOf(msg.to());
}

/** user@host of a From, To or Contact, lower case (the URI itself when it is not sip/sips). */
export function addressOf(n: NameAddr): string {
  const u = n.uri;
  return u.kind === 'sip' ? `${u.user ?? ''}@${u.host}`.toLowerCase() : u.opaque;
}

/** The longest expiry a registrar granted in a 2xx (its Contact expires params, else Expires; none: 0). */
export function grantedExpires(res: SipResponse): number {
  const contacts = res.has('contact') ? res.contacts() : [];
  const values =
    contacts === '*'
      ? []
      : contacts
          .map((c) => Number(getParam(c.params, 'expires') ?? res.header('expires') ?? NaN))
          .filter(Number.isFinite);
  if (values.length === 0) return res.has('expires') ? Number(res.header('expires')) || 0 : 0;
  return Math.max(...values);
}

/**
 * On a REGISTER's 2xx from core to the edge: the expiry core counted the binding with (the least of what the
 * client asked and call control granted), so the edge counts the same without parsing the Contacts again.
 * Core takes any such header off what call control sends; the edge takes it off before the client.
 */
export const BOUND_HEADER = 'X-MRA-Bound';

/**
 * On a node's own Via of a REGISTER: the registration's correlation id, the node's count key for it, so the answer
 * is counted without parsing its To again. Each node works it out itself (core does not take the edge's word).
 */
export const VIA_REGISTRATION = 'mra-reg';

/** The header the edge hands a request's correlation id to core in; core takes it off before call control. */
export const CORRELATION_HEADER = 'X-MRA-Correlation';

/**
 * A short id that follows one registration through both nodes' logs: a REGISTER and every refresh of it
 * keep their Call-ID (RFC 3261 §10.2.4), so the id is the same for the life of the registration; the AOR
 * is in it so two clients choosing one Call-ID do not share an id. A response gets the id of its request,
 * so each hop logs it without keeping state.
 */
export function correlationId(msg: SipMessage): string {
  const who = msg.cseq().method === 'REGISTER' ? aorOf(msg) : '';
  return shortHash(`${who}|${msg.callId()}`);
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * 60 bits of two 32-bit FNV-1a lanes (different primes, each finished with murmur3's mix), as 10 base64url
 * characters. A log id needs no cryptographic strength, and a SHA-1 per message was 8% of the edge's CPU.
 */
function shortHash(text: string, seedA = 0x811c9dc5, seedB = 0x2f7a3d1b): string {
  let a = seedA;
  let b = seedB;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  a = mix32(a);
  b = mix32(b ^ a);
  let out = '';
  for (let i = 0; i < 5; i++) out += ID_ALPHABET[(a >>> (i * 6)) & 63]! + ID_ALPHABET[(b >>> (i * 6)) & 63]!;
  return out;
}

function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The id the edge sent with a request (it is the edge's word, not a client's), else this node's own. */
export function receivedCorrelationId(req: SipRequest): string {
  const sent = req.header(CORRELATION_HEADER)?.trim();
  req.removeHeader(CORRELATION_HEADER);
  return sent && /^[A-Za-z0-9_-]{1,32}$/.test(sent) ? sent : correlationId(req);
}
