// SDP (RFC 8866) as far as a call's media needs it (SIP's offers and answers, and the ng protocol's): parse, a few rewrites, serialize. Every line the caller does
// not rewrite comes out byte for byte as it came in (latin1 both ways, each line with its own line ending), so
// what a relay does not understand (b=, a=fmtp, a=ssrc, vendor attributes) passes through untouched.
import { isIPv4 } from 'node:net';

const MARK = Symbol.for('mra-edge.sip.SdpError');
const SYNTAX_MARK = Symbol.for('mra-edge.sip.SdpSyntaxError');

/**
 * An SDP body a call cannot use: well-formed but unusable (IPv6, no usable key, port ranges) is answered 488 Not
 * Acceptable Here; malformed (an SdpSyntaxError) 400 Bad Request. The message names the line, and is the answer's
 * Reason and Warning text.
 */
export class SdpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SdpError';
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARK] === true;
  }

  get [MARK](): true {
    return true;
  }
}

/** SDP that breaks RFC 8866's grammar (or RFC 4568's for a=crypto), or one of its MUSTs: not an offer at all. */
export class SdpSyntaxError extends SdpError {
  constructor(message: string) {
    super(message);
    this.name = 'SdpSyntaxError';
  }

  // Its own mark: SdpError's test would accept every SdpError as a syntax error.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SYNTAX_MARK] === true;
  }

  get [SYNTAX_MARK](): true {
    return true;
  }
}

interface Line {
  /** `x=value` without its line ending. */
  text: string;
  eol: string;
}

/** At most this many m= lines: a call has audio, video, a second video and BFCP; 16 is generous. */
export const MAX_MEDIA = 16;
const LINE = /^[a-z]=/;
const MEDIA = /^m=(\S+) (\d{1,5})(?:\/(\d+))? (\S+)((?: \S+)+)$/;
const CONNECTION = /^c=IN (IP4|IP6) ([^\s/]+)(\/\S+)?$/;

function connectionAddress(line: Line, where: string): string {
  const m = CONNECTION.exec(line.text);
  if (!m) throw new SdpSyntaxError(`${where}: malformed c= line`);
  if (m[1] === 'IP6') throw new SdpError(`${where}: IPv6 media is not supported`);
  if (!isIPv4(m[2]!)) throw new SdpError(`${where}: c= address must be an IPv4 address`);
  return m[2]!;
}

function attributeName(text: string): string {
  const colon = text.indexOf(':');
  return (colon < 0 ? text.slice(2) : text.slice(2, colon)).toLowerCase();
}

/** The lines of one section (session or media) and the attribute helpers both share. */
class Section {
  constructor(protected readonly lines: Line[]) {}

  /** The values of every `a=<name>:value` (or '' for a flag attribute) in order. */
  attributes(name: string): string[] {
    const out: string[] = [];
    for (const l of this.lines) {
      if (!l.text.startsWith('a=') || attributeName(l.text) !== name) continue;
      const colon = l.text.indexOf(':');
      out.push(colon < 0 ? '' : l.text.slice(colon + 1));
    }
    return out;
  }

  hasAttribute(name: string): boolean {
    return this.lines.some((l) => l.text.startsWith('a=') && attributeName(l.text) === name);
  }

  removeAttributes(name: string): void {
    for (let i = this.lines.length - 1; i >= 0; i--)
      if (this.lines[i]!.text.startsWith('a=') && attributeName(this.lines[i]!.text) === name) this.lines.splice(i, 1);
  }

  /** Appends `a=<name>[:value]`, with the line ending the section already uses. */
  addAttribute(name: string, value?: string): void {
    const eol = this.lines[0]?.eol || '\r\n';
    const last = this.lines[this.lines.length - 1];
    // A body that ended without a line ending still does, after the new line.
    const unterminated = last !== undefined && last.eol === '';
    if (unterminated) last.eol = eol;
    this.lines.push({ text: value === undefined ? `a=${name}` : `a=${name}:${value}`, eol: unterminated ? '' : eol });
  }

  /** Replaces each `a=<name>` value by what `rewrite` returns for it (the line keeps its place and ending). */
  rewriteAttributes(name: string, rewrite: (value: string) => string): void {
    for (const l of this.lines)
      if (l.text.startsWith('a=') && attributeName(l.text) === name)
        l.text = `a=${name}:${rewrite(l.text.slice(l.text.indexOf(':') + 1))}`;
  }

  protected connectionLine(): Line | undefined {
    return this.lines.find((l) => l.text.startsWith('c='));
  }

  toString(): string {
    return this.lines.map((l) => l.text + l.eol).join('');
  }
}

/** One m= line and what follows it up to the next. */
export class MediaDescription extends Section {
  readonly index: number;
  readonly #address: string;

  constructor(lines: Line[], index: number, sessionAddress: string | undefined) {
    super(lines);
    this.index = index;
    const m = MEDIA.exec(lines[0]!.text);
    const where = `m= line ${index + 1}`;
    if (!m) throw new SdpSyntaxError(`${where}: malformed (m=<media> <port> <proto> <formats>)`);
    if (Number(m[2]) > 65535) throw new SdpSyntaxError(`${where}: port out of range`);
    if (m[3] !== undefined && m[3] !== '1') throw new SdpError(`${where}: port ranges are not supported`);
    const own = this.connectionLine();
    const address = own ? connectionAddress(own, where) : sessionAddress;
    if (address === undefined && Number(m[2]) !== 0)
      throw new SdpSyntaxError(`${where}: no c= line for it or for the session`);
    if (lines.slice(1).some((l) => l.text.startsWith('c=') && l !== own))
      throw new SdpSyntaxError(`${where}: more than one c= line`);
    this.#address = address ?? '0.0.0.0';
  }

  #fields(): RegExpExecArray {
    return MEDIA.exec(this.lines[0]!.text)!;
  }

  get media(): string {
    return this.#fields()[1]!;
  }
  get port(): number {
    return Number(this.#fields()[2]);
  }
  get proto(): string {
    return this.#fields()[4]!;
  }
  get formats(): string[] {
    return this.#fields()[5]!.trim().split(' ');
  }
  /** Where this stream is received: its own c= address, else the session's. */
  get address(): string {
    return this.#address;
  }
  /** Disabled (port 0): nothing is relayed for it. */
  get disabled(): boolean {
    return this.port === 0;
  }
  get rtcpMux(): boolean {
    return this.hasAttribute('rtcp-mux');
  }

  /** The a=rtcp port (RFC 3605), if given. */
  get rtcpPort(): number | undefined {
    const v = this.attributes('rtcp')[0];
    const port = v === undefined ? NaN : Number(/^(\d{1,5})/.exec(v)?.[1]);
    return Number.isInteger(port) && port > 0 && port <= 65535 ? port : undefined;
  }

  /** Moves the stream to our relay: the m= port (and proto), its own c= if it has one, and a=rtcp (RTCP's port). */
  setTransport(address: string, port: number, proto?: string, rtcpPort = port + 1): void {
    const f = this.#fields();
    this.lines[0]!.text = `m=${f[1]} ${port} ${proto ?? f[4]}${f[5]}`;
    const own = this.connectionLine();
    if (own) own.text = `c=IN IP4 ${address}`;
    this.rewriteAttributes('rtcp', () => `${rtcpPort} IN IP4 ${address}`);
  }
}

/** A parsed SDP body: the session-level lines and one MediaDescription per m= line. */
export class Sdp extends Section {
  readonly media: MediaDescription[];
  /** Empty lines after the last one, kept as they came (some stacks end the body with one). */
  readonly #trailer: string;

  private constructor(session: Line[], media: MediaDescription[], trailer: string) {
    super(session);
    this.media = media;
    this.#trailer = trailer;
  }

  static parse(body: Buffer | string): Sdp {
    const text = typeof body === 'string' ? body : body.toString('latin1');
    const lines: Line[] = [];
    const re = /([^\r\n]*)(\r\n|\n|$)/gy;
    while (re.lastIndex < text.length) {
      const m = re.exec(text);
      if (!m || m[0] === '') throw new SdpSyntaxError(`line ${lines.length + 1} holds a bare CR`);
      lines.push({ text: m[1]!, eol: m[2]! });
    }
    let end = lines.length;
    while (end > 0 && lines[end - 1]!.text === '') end--;
    const trailer = lines
      .slice(end)
      .map((l) => l.eol)
      .join('');
    lines.length = end;
    if (lines.length === 0) throw new SdpSyntaxError('empty SDP body');
    if (lines[0]!.text !== 'v=0') throw new SdpSyntaxError('first line is not v=0');
    for (const [i, l] of lines.entries()) {
      if (!LINE.test(l.text)) throw new SdpSyntaxError(`line ${i + 1} is not <type>=<value>`);
      if (l.text.includes('\0')) throw new SdpSyntaxError(`line ${i + 1} holds a NUL`);
    }
    const firstMedia = lines.findIndex((l) => l.text.startsWith('m='));
    const session = firstMedia < 0 ? lines : lines.slice(0, firstMedia);
    for (const type of ['o=', 's=', 't='])
      if (!session.some((l) => l.text.startsWith(type))) throw new SdpSyntaxError(`no ${type} line`);
    const sessionC = session.filter((l) => l.text.startsWith('c='));
    if (sessionC.length > 1) throw new SdpSyntaxError('more than one session-level c= line');
    const sessionAddress = sessionC[0] ? connectionAddress(sessionC[0], 'session') : undefined;
    const media: MediaDescription[] = [];
    if (firstMedia >= 0) {
      let start = firstMedia;
      for (let i = firstMedia + 1; i <= lines.length; i++) {
        if (i < lines.length && !lines[i]!.text.startsWith('m=')) continue;
        if (media.length === MAX_MEDIA) throw new SdpError(`more than ${MAX_MEDIA} m= lines`);
        media.push(new MediaDescription(lines.slice(start, i), media.length, sessionAddress));
        start = i;
      }
    }
    return new Sdp(session, media, trailer);
  }

  /** The session-level c= address, if there is one. */
  get sessionAddress(): string | undefined {
    const c = this.connectionLine();
    return c ? connectionAddress(c, 'session') : undefined;
  }

  /** The o= line's unicast address (its sixth field), if the line has one. */
  get originAddress(): string | undefined {
    const o = this.lines.find((l) => l.text.startsWith('o='));
    return o?.text.split(' ')[5];
  }

  /** Replaces the o= line's address (and its address type, IP4): a relay's replace-origin. */
  setOriginAddress(address: string): void {
    const o = this.lines.find((l) => l.text.startsWith('o='));
    const f = o?.text.split(' ');
    if (!o || !f || f.length < 6) throw new SdpSyntaxError('o= line has fewer than six fields');
    o.text = [...f.slice(0, 4), 'IP4', address, ...f.slice(6)].join(' ');
  }

  /** Points the session-level c= (if any) at `address`; the media's own are set by setTransport. */
  setSessionAddress(address: string): void {
    const c = this.connectionLine();
    if (c) c.text = `c=IN IP4 ${address}`;
  }

  override toString(): string {
    return super.toString() + this.media.map(String).join('') + this.#trailer;
  }

  toBuffer(): Buffer {
    return Buffer.from(this.toString(), 'latin1');
  }
}
