// XMPP framing (RFC 6120 §4): one stream is one XML document that never closes until the session ends; what
// matters are its header and its top-level elements. A strict streaming parser (saxes) checks well-formedness
// and namespaces; restricted XML (§11.1: no comments, processing instructions or DTDs) is refused here.
import { StringDecoder } from 'node:string_decoder';
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { MraError } from '../host/index.js';
import { NS, XmlElement, type StreamErrorCondition } from './xml.js';

/**
 * A stream refused or failed: on the wire, the RFC 6120 §4.9 stream error `condition` with the message as its
 * text (EdgeXmppStream closes the stream with it: XMPP's one mapping of its errors to the wire).
 */
export class XmppFramingError extends MraError {
  constructor(
    readonly condition: StreamErrorCondition,
    message: string,
    /** What the status page counts the refusal as, when it is not the condition itself (maintenance, no-tls). */
    readonly reason: string = condition,
  ) {
    super(message);
  }

  /** MRA_XMPP_ and the condition, e.g. MRA_XMPP_POLICY_VIOLATION. */
  get code(): string {
    return `MRA_XMPP_${this.condition.toUpperCase().replace(/-/g, '_')}`;
  }
}

export interface FramerHandlers {
  /** The stream header's attributes (to, from, version, ...) and the stream's default namespace. */
  streamStart(attrs: Record<string, string>, defaultNs: string): void;
  /** One complete top-level element: a stanza or a negotiation element. */
  element(el: XmlElement): void;
  streamEnd(): void;
}

const RESTART = Symbol('restart');
type Parser = SaxesParser<{ xmlns: true }>;

/**
 * Reads one direction of an XMPP connection. Stream restarts (after STARTTLS or SASL success) begin a new
 * document: a handler calls restart() and the parser is replaced exactly after the element that caused it.
 * Positions are absolute over all restarts, in characters, so a relay can hold back an incomplete element.
 */
export class XmppFramer {
  readonly #decoder = new StringDecoder('utf8');
  #parser!: Parser;
  #base = 0;
  #stack: XmlElement[] = [];
  #completed = 0;
  #restartWanted = false;
  #failed: XmppFramingError | undefined;
  #ended = false;
  #stanzaStart = 0;
  #writing = false;
  /** Characters written into the current parser (saxes's own position is only right during a write). */
  #fed = 0;

  constructor(
    private readonly h: FramerHandlers,
    /** Largest top-level element (and largest run of characters outside one) accepted, in characters. */
    private readonly maxElementChars = 65_536,
  ) {
    this.#newParser();
  }

  /** Absolute position up to which every element is complete (the stream header counts as one). */
  get completed(): number {
    return this.#completed;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** True inside the stream and outside any element: a stream error may be written now. */
  get open(): boolean {
    return this.#stack.length === 1 && !this.#failed;
  }

  /** Feeds bytes; returns them as text. Throws XmppFramingError (and keeps throwing it) on bad input. */
  write(chunk: Buffer): string {
    const text = this.#decoder.write(chunk);
    this.writeText(text);
    return text;
  }

  writeText(text: string): void {
    if (this.#failed) throw this.#failed;
    let rest = text;
    while (rest.length > 0) {
      this.#writing = true;
      try {
        this.#parser.write(rest);
        this.#fed += rest.length;
        rest = '';
      } catch (err) {
        this.#writing = false;
        if (err !== RESTART) throw this.#fail(err);
        const at = this.#parser.position;
        this.#base += at;
        rest = rest.slice(at - this.#fed);
        this.#newParser();
      }
      this.#writing = false;
    }
    if (this.#base + this.#fed - this.#completed > this.maxElementChars)
      throw this.#fail(
        new XmppFramingError('policy-violation', `element larger than ${this.maxElementChars} characters`),
      );
  }

  /** The next characters begin a new stream (called from element(), or between writes). */
  restart(): void {
    if (this.#writing) {
      this.#restartWanted = true;
      return;
    }
    this.#base += this.#fed;
    this.#newParser();
  }

  /** Only during a write, from the parser's handlers. */
  #position(): number {
    return this.#base + this.#parser.position;
  }

  #fail(err: unknown): XmppFramingError {
    this.#failed =
      err instanceof XmppFramingError ? err : new XmppFramingError('not-well-formed', (err as Error).message);
    return this.#failed;
  }

  #newParser(): void {
    const p: Parser = new SaxesParser({ xmlns: true });
    this.#stack = [];
    this.#fed = 0;
    this.#restartWanted = false;
    const refuse = (what: string) => () => {
      throw new XmppFramingError('restricted-xml', `${what} is not allowed in XMPP`);
    };
    p.on('error', (err) => {
      throw new XmppFramingError('not-well-formed', err.message);
    });
    p.on('doctype', refuse('a DTD'));
    p.on('comment', refuse('a comment'));
    p.on('processinginstruction', refuse('a processing instruction'));
    p.on('opentag', (tag) => this.#open(tag));
    p.on('text', (t) => this.#text(t));
    p.on('closetag', () => this.#close());
    this.#parser = p;
  }

  #open(tag: SaxesTagNS): void {
    const attrs: Record<string, string> = {};
    for (const a of Object.values(tag.attributes)) attrs[a.name] = a.value;
    if (this.#stack.length === 0) {
      if (tag.local !== 'stream')
        throw new XmppFramingError('bad-format', `the stream must begin with <stream:stream>, not <${tag.name}>`);
      if (tag.uri !== NS.stream)
        throw new XmppFramingError('invalid-namespace', `the stream element must be in ${NS.stream}`);
      this.#stack.push(new XmlElement(tag.name, attrs, [], tag.uri));
      this.#completed = this.#position();
      this.h.streamStart(attrs, tag.ns[''] ?? '');
      return;
    }
    const el = new XmlElement(tag.name, attrs, [], tag.uri);
    if (this.#stack.length === 1) this.#stanzaStart = this.#completed;
    else this.#stack[this.#stack.length - 1]!.children.push(el);
    this.#stack.push(el);
  }

  #text(t: string): void {
    if (this.#stack.length > 1) return void this.#stack[this.#stack.length - 1]!.children.push(t);
    // Between elements only whitespace (keepalives) may stand.
    if (this.#stack.length === 1 && t.trim() !== '')
      throw new XmppFramingError('bad-format', 'text outside any element');
  }

  #close(): void {
    const el = this.#stack.pop()!;
    const pos = this.#position();
    if (this.#stack.length === 0) {
      this.#completed = pos;
      this.#ended = true;
      return this.h.streamEnd();
    }
    if (this.#stack.length > 1) return;
    if (pos - this.#stanzaStart > this.maxElementChars)
      throw new XmppFramingError('policy-violation', `element larger than ${this.maxElementChars} characters`);
    this.#completed = pos;
    this.h.element(el);
    if (this.#restartWanted) throw RESTART;
  }
}
