// TURN client scenarios run against ours and coturn alike: each returns a transcript (step → what the server did:
// an error code, 0 for success, what arrived where), so the two servers' transcripts can be compared whole.
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { sleep } from '../media/helpers.js';
import { turnCredentials } from '../../src/turn/index.js';
import {
  ATTR,
  METHOD,
  TurnClient,
  attr,
  encode,
  errorOf,
  find,
  integrityOk,
  readXorAddress,
  type ClientOptions,
  type Endpoint,
} from '../support/turn-client.js';
import { LOOPBACK, REALM, SECRET } from './subjects.js';

export type Transcript = Record<string, unknown>;

/** A peer: a UDP socket on a loopback address of its own (permissions are per address, RFC 8656 §9). */
export class Peer {
  readonly received: Array<{ data: Buffer; port: number }> = [];
  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (data, rinfo) => this.received.push({ data, port: rinfo.port }));
  }

  static async open(address = LOOPBACK): Promise<Peer> {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, address);
    await once(socket, 'listening');
    return new Peer(socket);
  }

  get endpoint(): Endpoint {
    return { address: this.socket.address().address, port: this.socket.address().port };
  }
  get port(): number {
    return this.endpoint.port;
  }
  send(data: Buffer, port: number, address = LOOPBACK): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.send(data, port, address, (err) => (err ? reject(err) : resolve())),
    );
  }
  async waitFor(count: number, ms = 3000): Promise<void> {
    if (!(await settle(() => this.received.length >= count, ms)))
      throw new Error(`expected ${count} packets at the peer, got ${this.received.length}`);
  }
  close(): void {
    this.socket.close();
  }
}

export const credentials = (user: string, ttlS = 3600, secret = SECRET) => turnCredentials(secret, user, ttlS);

export async function client(
  server: Endpoint,
  user: string | undefined,
  opts: ClientOptions = {},
): Promise<TurnClient> {
  return TurnClient.open(server, { ...opts, ...(user ? { credentials: credentials(user) } : {}) });
}

/** Until `check` holds or `ms` pass; then whatever it says. */
async function settle(check: () => boolean, ms = 1500): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await sleep(10);
  return check();
}

const UDP = Buffer.from([17, 0, 0, 0]);
const AFTER_DELETE_MS = 1500;

/**
 * One client through everything a client does on one allocation, and the mistakes it can make: authentication,
 * allocation, permissions, Send and Data indications, channels both ways, refresh and delete; 401, 437, 441, 400,
 * 403, 420, 440, 442 on the way.
 */
export async function basics(server: Endpoint, transport: 'udp' | 'tcp', denied: string): Promise<Transcript> {
  const t: Transcript = {};
  const peer = await Peer.open();
  const other = await Peer.open('127.0.0.2');
  const c = await client(server, 'alice', { transport });
  const clients = [c];
  try {
    // STUN Binding needs no credentials.
    const binding = await c.transact(c.build(METHOD.binding, []));
    t.binding = binding && {
      cls: binding.cls,
      mapped: JSON.stringify(readXorAddress(find(binding, ATTR.xorMappedAddress))) === JSON.stringify(c.local),
    };

    // No credentials: challenged with REALM and NONCE.
    const bare = await c.transact(
      encode(METHOD.allocate, 'request', randomBytes(12), [attr(ATTR.requestedTransport, UDP)]),
    );
    t.challenge = bare && {
      code: errorOf(bare)?.code,
      realm: find(bare, ATTR.realm)?.value.toString(),
      nonce: find(bare, ATTR.nonce) !== undefined,
    };

    const wrong = await client(server, undefined, { transport });
    clients.push(wrong);
    wrong.opts.credentials = { username: credentials('alice').username, password: 'not-the-password' };
    t.wrongPassword = (await wrong.allocate()).codes;
    const expired = await client(server, undefined, { transport });
    clients.push(expired);
    expired.opts.credentials = turnCredentials(SECRET, 'alice', 1, Math.floor(Date.now() / 1000) - 100);
    t.expiredCredentials = (await expired.allocate()).codes;
    const otherSecret = await client(server, undefined, { transport });
    clients.push(otherSecret);
    otherSecret.opts.credentials = credentials('alice', 3600, 'another-secret-0123456789');
    t.otherSecret = (await otherSecret.allocate()).codes;

    const allocated = await c.allocate();
    t.allocate = {
      codes: allocated.codes,
      relayed: allocated.relayed?.address,
      integrity: integrityOk(allocated.msg, c.key),
    };
    const relayed = allocated.relayed!;
    t.allocateAgain = (await c.allocate()).codes;
    // A retransmission (same transaction) of the Allocate that made it: its success again.
    const again = await c.transact(c.build(METHOD.allocate, [attr(ATTR.requestedTransport, UDP)], allocated.msg.tid));
    t.allocateRetransmitted = again && {
      code: errorOf(again)?.code ?? 0,
      same: JSON.stringify(readXorAddress(find(again, ATTR.xorRelayedAddress))) === JSON.stringify(relayed),
    };
    t.refresh = (await c.refresh(600)).codes;

    // Data from a peer without a permission goes nowhere.
    await peer.send(Buffer.from('before permission'), relayed.port);
    t.dataBeforePermission = await settle(() => c.received.length > 0, 300);
    t.createPermission = (await c.createPermission({ address: LOOPBACK, port: peer.port })).codes;
    await peer.send(Buffer.from('from peer'), relayed.port);
    await c.waitReceived(1);
    const first = c.received[0]!;
    t.dataIndication = { kind: first.kind, data: first.data.toString(), peerPort: first.peer?.port === peer.port };
    c.sendIndication({ address: LOOPBACK, port: peer.port }, Buffer.from('send indication'));
    await peer.waitFor(1);
    t.sendIndication = { data: peer.received[0]!.data.toString(), fromRelay: peer.received[0]!.port === relayed.port };
    // A Send indication to a peer without a permission is dropped.
    c.sendIndication(other.endpoint, Buffer.from('no permission'));
    t.sendWithoutPermission = await settle(() => other.received.length > 0, 300);

    t.channelBind = (await c.channelBind(0x4001, { address: LOOPBACK, port: peer.port })).codes;
    c.channelData(0x4001, Buffer.from('channel to peer'));
    await peer.waitFor(2);
    t.channelToPeer = peer.received[1]!.data.toString();
    await peer.send(Buffer.from('channel to client'), relayed.port);
    await c.waitReceived(2);
    t.channelToClient = {
      kind: c.received[1]!.kind,
      channel: c.received[1]!.channel,
      data: c.received[1]!.data.toString(),
    };
    t.channelRebindSame = (await c.channelBind(0x4001, { address: LOOPBACK, port: peer.port })).codes;
    t.channelToOtherPeer = (await c.channelBind(0x4001, other.endpoint)).codes;
    t.peerOnOtherChannel = (await c.channelBind(0x4002, { address: LOOPBACK, port: peer.port })).codes;
    t.channelNumberTooLow = (await c.channelBind(0x3fff, other.endpoint)).codes;
    t.deniedPeer = (await c.createPermission({ address: denied, port: 5000 })).codes;
    t.unknownAttribute = (await c.request(METHOD.refresh, [attr(0x7777, Buffer.from([1, 2, 3, 4]))])).codes;

    // Another user's credentials on this 5-tuple.
    const alice = c.opts.credentials;
    c.opts.credentials = credentials('bob');
    t.wrongCredentials = (await c.refresh(600)).codes;
    c.opts.credentials = alice;

    // A TCP relay (RFC 6062) on a client of its own: coturn makes one, which would change what follows.
    const tcpRelay = await client(server, 'alice', { transport });
    clients.push(tcpRelay);
    t.tcpTransport = (
      await tcpRelay.request(METHOD.allocate, [attr(ATTR.requestedTransport, Buffer.from([6, 0, 0, 0]))])
    ).code;
    const fresh = await client(server, 'alice', { transport });
    clients.push(fresh);
    t.noTransport = (await fresh.request(METHOD.allocate, [])).codes;
    t.ipv6 = (
      await fresh.request(METHOD.allocate, [
        attr(ATTR.requestedTransport, UDP),
        attr(ATTR.requestedAddressFamily, Buffer.from([2, 0, 0, 0])),
      ])
    ).codes;
    t.permissionWithoutAllocation = (await fresh.createPermission({ address: LOOPBACK, port: peer.port })).codes;
    t.refreshWithoutAllocation = (await fresh.refresh()).codes;

    t.delete = (await c.refresh(0)).codes;
    // Over TCP coturn closes the connection with the allocation; ours keeps it for a new one (idle ones close).
    if (transport === 'tcp') return t;
    // coturn ends a deleted allocation at its next timer tick, up to a second later (until then it still answers
    // for it): both are asked after that. Ours ends it at once (test/turn/server.test.ts). The last answer counts:
    // coturn's nonce ends with the allocation (438 first), ours lives its own lifetime.
    await sleep(AFTER_DELETE_MS);
    t.refreshAfterDelete = (await c.refresh(600)).code;
    t.allocateAfterDelete = (await c.allocate()).code;
    t.deleteAgain = (await c.refresh(0)).codes;
    return t;
  } finally {
    for (const x of clients) x.close();
    peer.close();
    other.close();
  }
}

/** What RFC 8656 says `basics` must see (test/turn/protocol.test.ts compares coturn's with it). */
export function expectedBasics(transport: 'udp' | 'tcp'): Transcript {
  return {
    binding: { cls: 'success', mapped: true },
    challenge: { code: 401, realm: REALM, nonce: true },
    wrongPassword: [401, 401],
    expiredCredentials: [401, 401],
    otherSecret: [401, 401],
    allocate: { codes: [401, 0], relayed: '127.0.0.1', integrity: true },
    allocateAgain: [437],
    allocateRetransmitted: { code: 0, same: true },
    refresh: [0],
    dataBeforePermission: false,
    createPermission: [0],
    dataIndication: { kind: 'data', data: 'from peer', peerPort: true },
    sendIndication: { data: 'send indication', fromRelay: true },
    sendWithoutPermission: false,
    channelBind: [0],
    channelToPeer: 'channel to peer',
    channelToClient: { kind: 'channel', channel: 0x4001, data: 'channel to client' },
    channelRebindSame: [0],
    channelToOtherPeer: [400],
    peerOnOtherChannel: [400],
    channelNumberTooLow: [400],
    deniedPeer: [403],
    unknownAttribute: [420],
    wrongCredentials: [441],
    tcpTransport: 442,
    noTransport: [401, 400],
    ipv6: [440],
    permissionWithoutAllocation: [437],
    refreshWithoutAllocation: [437],
    delete: [0],
    ...(transport === 'udp' ? { refreshAfterDelete: 437, allocateAfterDelete: 0, deleteAgain: [0] } : {}),
  };
}

/** Malformed input: none of it is answered, and the server answers a Binding afterwards. */
export async function malformed(server: Endpoint): Promise<Transcript> {
  const c = await client(server, 'alice');
  try {
    const good = c.build(METHOD.binding, []);
    const badLength = Buffer.from(good);
    badLength.writeUInt16BE(400, 2);
    const badCookie = Buffer.from(good);
    badCookie.writeUInt32BE(0xdeadbeef, 4);
    const badAttribute = encode(METHOD.binding, 'request', randomBytes(12), [attr(ATTR.software, 'x')]);
    badAttribute.writeUInt16BE(200, 22); // the attribute claims more than the message holds
    const badFingerprint = encode(METHOD.binding, 'request', randomBytes(12), [], { fingerprint: true });
    badFingerprint[badFingerprint.length - 1]! ^= 1;
    const inputs = {
      empty: Buffer.alloc(0),
      garbage: randomBytes(64),
      short: good.subarray(0, 12),
      badLength,
      badCookie,
      badAttribute,
      badFingerprint,
      channelDataNoAllocation: Buffer.from([0x40, 0x01, 0x00, 0x04, 1, 2, 3, 4]),
      channelDataShort: Buffer.from([0x40, 0x01, 0x00, 0x40]),
    };
    const t: Transcript = {};
    for (const [name, bytes] of Object.entries(inputs))
      t[name] = (await c.transact(bytes, 200)) ? 'answered' : 'dropped';
    const after = await c.transact(c.build(METHOD.binding, []));
    t.bindingAfter = after?.cls;
    return t;
  } finally {
    c.close();
  }
}

/** Per-user and total quotas: 486 beyond either; a deleted allocation frees its place. */
export async function quotas(server: Endpoint): Promise<Transcript> {
  const t: Transcript = {};
  const clients: TurnClient[] = [];
  const allocateAs = async (user: string) => {
    const c = await client(server, user);
    clients.push(c);
    return (await c.allocate()).code;
  };
  try {
    t.alice = [await allocateAs('alice'), await allocateAs('alice'), await allocateAs('alice')];
    t.bob = [await allocateAs('bob'), await allocateAs('bob')];
    t.carol = [await allocateAs('carol')];
    // Credentials renewed (a new expiry) are still alice's: her quota holds.
    const renewed = await TurnClient.open(server, { credentials: credentials('alice', 7200) });
    clients.push(renewed);
    t.aliceRenewed = (await renewed.allocate()).code;
    t.deleteOne = (await clients[0]!.refresh(0)).code;
    await sleep(AFTER_DELETE_MS);
    t.carolAfterDelete = await allocateAs('carol');
    for (const c of clients) await c.refresh(0).catch(() => undefined);
    return t;
  } finally {
    for (const c of clients) c.close();
  }
}

/** A nonce outlives its lifetime: 438 with a new one, and the request goes through with it. */
export async function staleNonce(server: Endpoint, waitMs: number): Promise<Transcript> {
  const c = await client(server, 'alice');
  try {
    const t: Transcript = { allocate: (await c.allocate()).codes };
    const before = c.nonce;
    await sleep(waitMs);
    const refreshed = await c.refresh(600);
    t.refreshAfterNonceExpired = refreshed.codes;
    t.newNonce = c.nonce !== before;
    t.delete = (await c.refresh(0)).codes;
    return t;
  } finally {
    c.close();
  }
}

/** An allocation, a permission and a channel that are never refreshed end by themselves. */
export async function expiry(server: Endpoint, lifetimeS: number): Promise<Transcript> {
  const peer = await Peer.open();
  const c = await client(server, 'alice');
  try {
    const a = await c.allocate([attr(ATTR.lifetime, 3600)]);
    const t: Transcript = { allocate: a.codes, lifetime: a.lifetime };
    t.permission = (await c.createPermission({ address: LOOPBACK, port: peer.port })).codes;
    await sleep(lifetimeS * 1000 + 1500);
    // The last answer: coturn's nonce ends with the allocation (438 first), ours lives its own lifetime.
    t.refreshAfterExpiry = (await c.refresh(600)).code;
    t.allocateAgain = (await c.allocate()).codes;
    t.delete = (await c.refresh(0)).codes;
    return t;
  } finally {
    c.close();
    peer.close();
  }
}
