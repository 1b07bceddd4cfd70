import { connect as tlsConnect, createSecureContext, type SecureContext } from 'node:tls';
import { connect as tcpConnect, type Socket } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  SipStreamFramer,
  parseMessage,
  createResponse,
  branchOf,
  SipRequest,
  type SipResponse,
} from '../../sip/message/index.js';
import { DigestCredentials, parseChallenge } from '../digest.js';

/** Where a client connects: the edge's 5061, Kamailio's TLS port, or a TCP port in tests. */
export interface SipTarget {
  host: string;
  port: number;
  transport: 'tls' | 'tcp';
  /** PEM CA bundle that signed the server certificate; the client verifies it as a real client does. */
  ca?: string;
  servername?: string;
}

export interface ClientIdentity {
  user: string;
  domain: string;
  password: string;
}

export interface RegisterOutcome {
  /** Final status; 0 when the connection closed first, 408 when no final response came in time. */
  status: number;
  /** From the first REGISTER sent to the final response, challenge round included. */
  latencyMs: number;
  challenged: boolean;
  /** Seconds from a Retry-After in the final response (503, RFC 3261 §21.5.4): do not try again sooner. */
  retryAfterS?: number;
}

export interface RegisteringClientOptions {
  target: SipTarget;
  /**
   * The other servers the client was given (a cluster's edges, as DNS SRV gives them): when its connection drops or a
   * connect fails it connects to the next one, in turn.
   */
  alternates?: readonly SipTarget[];
  identity: ClientIdentity;
  expiresS: number;
  /** Give up on a transaction after this long (Timer F is 32 s; load runs want to know sooner). */
  timeoutMs?: number;
  /** Answers requests that arrive on the connection (OPTIONS, MESSAGE...); 200 when absent. */
  onRequest?: (req: SipRequest) => number;
}

// One context per CA bundle for all clients in a thread: building one per connection (parsing the PEM into a
// fresh X509 store) cost the generator more CPU than the handshake itself, and capped it at ~60 connects/s.
const contexts = new Map<string, SecureContext>();
function contextFor(ca: string | undefined): SecureContext {
  const key = ca ?? '';
  let ctx = contexts.get(key);
  if (!ctx) contexts.set(key, (ctx = createSecureContext(ca === undefined ? {} : { ca })));
  return ctx;
}

interface Pending {
  branch: string;
  resolve: (r: SipResponse | null) => void;
  timer: NodeJS.Timeout;
}

/**
 * A remote client as the load needs it: one long-lived TLS connection (as Jabber keeps one to the edge),
 * REGISTER with digest credentials cached between refreshes, and answers to whatever arrives for it.
 * One transaction at a time: a client never has two REGISTERs in flight.
 */
export class RegisteringClient {
  readonly #opts: RegisteringClientOptions;
  readonly #callId = `${randomBytes(12).toString('hex')}@load`;
  readonly #fromTag = randomBytes(6).toString('hex');
  readonly #instance = `<urn:uuid:${randomUUID()}>`;
  readonly #credentials: DigestCredentials;
  #socket: Socket | null = null;
  #cseq = 0;
  #pending: Pending | null = null;
  #closeListeners: Array<() => void> = [];
  #queue: Promise<unknown> = Promise.resolve();
  readonly #targets: readonly SipTarget[];
  /** Which of #targets the client connects to next. */
  #at = 0;
  readonly received = new Map<string, number>();

  constructor(opts: RegisteringClientOptions) {
    this.#opts = opts;
    this.#credentials = new DigestCredentials(opts.identity.user, opts.identity.password);
    this.#targets = [opts.target, ...(opts.alternates ?? [])];
  }

  /** The server the client is connected to, or connects to next. */
  get target(): SipTarget {
    return this.#targets[this.#at]!;
  }

  #next(): void {
    this.#at = (this.#at + 1) % this.#targets.length;
  }

  get connected(): boolean {
    return this.#socket !== null && !this.#socket.destroyed;
  }

  get localPort(): number | undefined {
    return this.#socket?.localPort;
  }

  onClose(cb: () => void): void {
    this.#closeListeners.push(cb);
  }

  connect(timeoutMs = 10_000): Promise<void> {
    if (this.connected) return Promise.resolve();
    const t = this.target;
    return new Promise((resolve, reject) => {
      const sock =
        t.transport === 'tls'
          ? tlsConnect({
              host: t.host,
              port: t.port,
              secureContext: contextFor(t.ca),
              servername: t.servername,
              rejectUnauthorized: t.ca !== undefined,
            })
          : tcpConnect({ host: t.host, port: t.port });
      const ready = t.transport === 'tls' ? 'secureConnect' : 'connect';
      const timer = setTimeout(() => sock.destroy(new Error(`connect to ${t.host}:${t.port} timed out`)), timeoutMs);
      let settled = false;
      sock.once(ready, () => {
        clearTimeout(timer);
        settled = true;
        sock.setNoDelay(true);
        this.#socket = sock;
        resolve();
      });
      const framer = new SipStreamFramer();
      sock.on('data', (chunk: Buffer) => {
        for (const ev of framer.push(chunk)) {
          if (ev.kind === 'message') this.#onMessage(ev.data);
          else if (ev.kind === 'ping') sock.write('\r\n');
          else if (ev.kind === 'error') sock.destroy();
        }
      });
      sock.on('error', (err) => {
        clearTimeout(timer);
        if (!settled) {
          settled = true;
          this.#next();
          reject(err);
        }
      });
      sock.on('close', () => {
        clearTimeout(timer);
        if (!settled) {
          settled = true;
          this.#next();
          reject(new Error(`connection to ${t.host}:${t.port} closed during setup`));
        }
        if (this.#socket === sock) {
          // Lost, not closed by the client: the next connect goes to the next server it was given.
          this.#socket = null;
          this.#next();
        }
        this.#settle(null);
        for (const cb of this.#closeListeners) cb();
      });
    });
  }

  /**
   * Registers (or refreshes); answers one challenge, and a second one only when the first nonce went stale.
   * Calls queue behind each other: a refresh timer and a closed loop may both ask, and one client has one
   * REGISTER in flight at a time (a second would take over the pending slot and strand the first caller).
   */
  register(expiresS = this.#opts.expiresS): Promise<RegisterOutcome> {
    const run = this.#queue.then(() => this.#register(expiresS));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #register(expiresS: number): Promise<RegisterOutcome> {
    const started = performance.now();
    let challenged = false;
    for (let round = 0; round < 3; round++) {
      const res = await this.#transact(this.#buildRegister(expiresS));
      if (!res) return { status: this.connected ? 408 : 0, latencyMs: performance.now() - started, challenged };
      if (res.status === 401 || res.status === 407) {
        const value = res.header(res.status === 401 ? 'www-authenticate' : 'proxy-authenticate');
        const challenge = value ? parseChallenge(value) : null;
        // A second challenge for a fresh answer means the password is wrong; stale=true means only the nonce aged.
        if (!challenge || (challenged && !challenge.stale))
          return { status: res.status, latencyMs: performance.now() - started, challenged };
        this.#credentials.accept(challenge);
        challenged = true;
        continue;
      }
      const retryAfter = Number.parseInt(res.header('retry-after') ?? '', 10);
      return {
        status: res.status,
        latencyMs: performance.now() - started,
        challenged,
        ...(retryAfter >= 0 ? { retryAfterS: retryAfter } : {}),
      };
    }
    return { status: 401, latencyMs: performance.now() - started, challenged };
  }

  close(): void {
    // Let go first: the socket's close event then sees a connection the client ended, not one it lost.
    const sock = this.#socket;
    this.#socket = null;
    sock?.destroy();
  }

  #buildRegister(expiresS: number): SipRequest {
    const { user, domain } = this.#opts.identity;
    const sock = this.#socket;
    const local = sock ? `${sock.localAddress}:${sock.localPort}` : 'invalid';
    const transport = this.target.transport.toUpperCase();
    const branch = `z9hG4bK${randomBytes(8).toString('hex')}`;
    const uri = `sip:${domain}`;
    const lines = [
      `REGISTER ${uri} SIP/2.0`,
      `Via: SIP/2.0/${transport} ${local};branch=${branch}`,
      'Max-Forwards: 70',
      `From: <sip:${user}@${domain}>;tag=${this.#fromTag}`,
      `To: <sip:${user}@${domain}>`,
      `Call-ID: ${this.#callId}`,
      `CSeq: ${++this.#cseq} REGISTER`,
      `Contact: <sip:${user}@${local};transport=${this.target.transport};ob>;+sip.instance="${this.#instance}";expires=${expiresS}`,
      'Supported: path, outbound',
      `Expires: ${expiresS}`,
      'User-Agent: mra-edge-load',
    ];
    const auth = this.#credentials.authorization('REGISTER', uri);
    if (auth) lines.push(`Authorization: ${auth}`);
    lines.push('Content-Length: 0', '', '');
    return parseMessage(Buffer.from(lines.join('\r\n')), { stream: true }) as SipRequest;
  }

  #transact(req: SipRequest): Promise<SipResponse | null> {
    const sock = this.#socket;
    if (!sock || sock.destroyed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#settle(null), this.#opts.timeoutMs ?? 32_000);
      this.#pending = { branch: branchOf(req.topVia()) ?? '', resolve, timer };
      sock.write(req.serialize());
    });
  }

  #settle(res: SipResponse | null): void {
    const p = this.#pending;
    if (!p) return;
    this.#pending = null;
    clearTimeout(p.timer);
    p.resolve(res);
  }

  #onMessage(data: Buffer): void {
    let msg: ReturnType<typeof parseMessage>;
    try {
      msg = parseMessage(data, { stream: true });
    } catch {
      return; // a broken message from the server: nothing a client can answer
    }
    if (msg instanceof SipRequest) {
      this.received.set(msg.method, (this.received.get(msg.method) ?? 0) + 1);
      if (msg.method === 'ACK') return;
      const status = this.#opts.onRequest?.(msg) ?? 200;
      this.#socket?.write(createResponse(msg, status).serialize());
      return;
    }
    // Provisional responses do not end a REGISTER; anything final for our branch does.
    if (msg.status < 200 || !this.#pending) return;
    if (branchOf(msg.topVia()) !== this.#pending.branch) return;
    this.#settle(msg);
  }
}
