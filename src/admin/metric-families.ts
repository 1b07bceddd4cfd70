/**
 * Every metric family a node exports, read from its status document at scrape time. Named by Prometheus' rules
 * (https://prometheus.io/docs/practices/naming/): `mra_` then the plane, base units in the name (`_seconds`,
 * `_bytes`), counters end in `_total`, and what varies within one family is a label (direction, reason, plane,
 * category), never a name. docs/metrics.md lists the same families; a test keeps the two in step.
 */
import type { Alarm } from './alarms.js';

type Doc = Record<string, unknown>;
export type Labels = Record<string, string>;
export type Sample = [Labels, number];

export interface MetricFamily {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  labels: readonly string[];
  /** The one role that has the figure (its help starts "Edge:", "Core:" or "Relay:"); edge and core when absent. */
  role?: 'edge' | 'core' | 'relay';
  /** The family's samples in this snapshot; none when the node has no such figure (an edge has no discovery). */
  read(s: { doc: Doc; alarms: Alarm[] }): Sample[];
}

const isObject = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value at a dotted path, when it is a finite number (booleans count as 0/1). */
export function figure(doc: Doc, path: string): number | undefined {
  let v: unknown = doc;
  for (const k of path.split('.')) v = isObject(v) ? v[k] : undefined;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

const one = (v: number | undefined): Sample[] => (v === undefined ? [] : [[{}, v]]);
/** One sample per label value, each from its own path; paths the node lacks are left out. */
const each =
  (label: string, paths: Record<string, string>) =>
  (doc: Doc): Sample[] =>
    Object.entries(paths).flatMap(([value, path]) => {
      const v = figure(doc, path);
      return v === undefined ? [] : [[{ [label]: value }, v] as Sample];
    });
/** Every numeric field of an object, by its key as the label value (failures by category, refusals by reason). */
const byKey =
  (label: string, path: string, rename: (k: string) => string = snake) =>
  (doc: Doc): Sample[] => {
    let v: unknown = doc;
    for (const k of path.split('.')) v = isObject(v) ? v[k] : undefined;
    if (!isObject(v)) return [];
    return Object.entries(v).flatMap(([k, n]) =>
      typeof n === 'number' ? [[{ [label]: rename(k) }, n] as Sample] : [],
    );
  };
const snake = (k: string) => k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
const seconds = (iso: unknown) =>
  typeof iso === 'string' && !Number.isNaN(Date.parse(iso)) ? Date.parse(iso) / 1000 : undefined;
const list = (doc: Doc, path: string): unknown[] => {
  let v: unknown = doc;
  for (const k of path.split('.')) v = isObject(v) ? v[k] : undefined;
  return Array.isArray(v) ? v : [];
};

const roleOf = (help: string) =>
  help.startsWith('Edge:')
    ? 'edge'
    : help.startsWith('Core:')
      ? 'core'
      : help.startsWith('Relay:')
        ? 'relay'
        : undefined;
const family =
  (type: MetricFamily['type']) =>
  (name: string, help: string, read: (doc: Doc) => Sample[], labels: readonly string[] = []): MetricFamily => {
    const role = roleOf(help);
    return { name, type, help, labels, ...(role ? { role } : {}), read: (s) => read(s.doc) };
  };
const gauge = family('gauge');
const counter = family('counter');
const at = (path: string) => (doc: Doc) => one(figure(doc, path));
/** A kernel path figure: in the media section on edge and core, in the relay section on the relay role. */
const kernelPath = (k: string) => (doc: Doc) =>
  one(figure(doc, `media.kernelPath.${k}`) ?? figure(doc, `relay.kernelPath.${k}`));

const channelsUp = (doc: Doc): Sample[] => {
  const t = doc.traversal;
  if (!isObject(t)) return [];
  const counts: Record<string, number> = { sip: 0, http: 0, xmpp: 0 };
  const add = (channels: unknown) => {
    if (isObject(channels)) for (const [k, v] of Object.entries(channels)) if (k in counts && v === 'up') counts[k]!++;
  };
  if (Array.isArray(t.cores)) for (const c of t.cores) add(isObject(c) ? c.channels : undefined);
  else add(t.channels);
  return Object.entries(counts).map(([channel, n]) => [{ channel }, n]);
};

/** Edge: from and to clients; core: to call control and to the edge (what each proxy counts). */
const SIP_MESSAGES: Array<[string, string, string]> = [
  ['sip.fromClients', 'in', 'client'],
  ['sip.toClients', 'out', 'client'],
  ['sip.toCallControl', 'out', 'call_control'],
  ['sip.toEdge', 'out', 'edge'],
];
const sipMessages = (doc: Doc): Sample[] =>
  SIP_MESSAGES.flatMap(([path, direction, peer]) => {
    const v = figure(doc, path);
    return v === undefined ? [] : [[{ direction, peer }, v] as Sample];
  });

const publishers = (doc: Doc, value: (c: Doc) => number | undefined): Sample[] =>
  list(doc, 'discovery.clusters').flatMap((c) => {
    if (!isObject(c)) return [];
    const v = value(c);
    return v === undefined ? [] : [[{ kind: String(c.kind), publisher: String(c.publisher) }, v] as Sample];
  });

export const METRIC_FAMILIES: readonly MetricFamily[] = [
  // The node
  gauge(
    'mra_node_info',
    'Always 1; the labels name the node and its release',
    (doc) => [[{ node: String(doc.node ?? ''), version: String(doc.version ?? '') }, 1]],
    ['node', 'version'],
  ),
  gauge('mra_node_start_time_seconds', 'When the node started, in seconds since the Unix epoch', (doc) =>
    one(seconds(doc.started)),
  ),
  gauge('mra_maintenance_mode', '1 while the node refuses new registrations, sign-ins and calls', (doc) => [
    [{}, doc.maintenance === true ? 1 : 0],
  ]),
  gauge(
    'mra_maintenance_drained',
    '1 in maintenance mode once no call or chat session is left (safe to stop)',
    (doc) => [[{}, isObject(doc.drain) && doc.drain.drained === true ? 1 : 0]],
  ),
  {
    name: 'mra_alarms',
    type: 'gauge',
    help: 'Active alarms by severity',
    labels: ['severity'],
    read: (s) =>
      (['warning', 'error'] as const).map((severity) => [
        { severity },
        s.alarms.filter((a) => a.severity === severity).length,
      ]),
  },
  {
    name: 'mra_alarm',
    type: 'gauge',
    help: 'One series per active alarm, value 1',
    labels: ['id', 'severity'],
    read: (s) => s.alarms.map((a) => [{ id: a.id, severity: a.severity }, 1]),
  },

  // Traversal link
  gauge(
    'mra_traversal_link_up',
    '1 when the traversal link is up (core: its link to an edge; edge: some core holds a SIP channel)',
    (doc) => (isObject(doc.traversal) ? [[{}, doc.traversal.state === 'up' ? 1 : 0]] : []),
  ),
  gauge('mra_traversal_channels_up', 'Traversal channels up, by channel (edge: across all cores)', channelsUp, [
    'channel',
  ]),
  gauge('mra_traversal_cores', 'Edge: core nodes holding channels to this edge', (doc) =>
    isObject(doc.traversal) && Array.isArray(doc.traversal.cores) ? [[{}, doc.traversal.cores.length]] : [],
  ),
  gauge('mra_traversal_rtt_seconds', 'Core: round trip of the last traversal keepalive', (doc) =>
    one(ms(figure(doc, 'traversal.rttMs'))),
  ),
  counter(
    'mra_traversal_reconnects_total',
    'Core: times the link came back up after having been up',
    at('traversal.reconnects'),
  ),
  gauge(
    'mra_traversal_failed_attempts',
    'Core: failed link attempts since the link was last up',
    at('traversal.failedAttempts'),
  ),
  counter(
    'mra_traversal_refused_total',
    'Edge: traversal connections refused, by the check that failed',
    byKey('reason', 'traversal.refused'),
    ['reason'],
  ),

  // SIP
  gauge('mra_sip_registrations', 'Registrations held through this node', at('sip.registrations')),
  gauge(
    'mra_sip_registrations_limit',
    'capacity.registrations: new registrations beyond it get 503',
    at('sip.capacity'),
  ),
  gauge('mra_sip_calls', 'Call legs (INVITE dialogs) through this node', at('sip.calls')),
  counter('mra_sip_calls_ended_total', 'Call legs ended, by how', byKey('reason', 'sip.callsEnded'), ['reason']),
  counter('mra_sip_messages_total', 'SIP messages relayed, by direction and the peer on the far side', sipMessages, [
    'direction',
    'peer',
  ]),
  counter(
    'mra_sip_refused_total',
    'SIP requests this node refused with an answer of its own (4xx/5xx)',
    at('sip.refused'),
  ),
  gauge('mra_sip_client_connections', 'Edge: client TLS connections open on the SIP port', at('sip.connections')),
  counter(
    'mra_sip_tls_handshakes_total',
    'Edge: client TLS handshakes on the SIP port, by result',
    each('result', { accepted: 'sip.tls.accepted', refused: 'sip.tls.refused', failed: 'sip.tls.handshakeFailures' }),
    ['result'],
  ),
  counter(
    'mra_sip_tls_bytes_total',
    'Edge: bytes of SIP over client TLS, by direction',
    each('direction', { in: 'sip.tls.bytesIn', out: 'sip.tls.bytesOut' }),
    ['direction'],
  ),
  counter(
    'mra_sip_overload_shed_total',
    'Edge: client requests answered 503 at once because they had waited too long under overload',
    at('sip.overloadShed'),
  ),
  gauge('mra_sip_call_control_connections', 'Core: connections open to call control', at('sip.callControlConnections')),

  // Media
  gauge('mra_media_calls', 'Calls with media relays, counted against capacity.calls', at('media.calls')),
  gauge('mra_media_calls_limit', 'capacity.calls: new calls beyond it get 503', at('media.capacity')),
  gauge('mra_media_relays', 'Media relays open', at('media.relays')),
  counter('mra_media_relays_opened_total', 'Media relays opened', at('media.relaysOpened')),
  counter('mra_media_relays_closed_total', 'Media relays closed', at('media.relaysClosed')),
  counter('mra_media_timeouts_total', "Answered calls' streams silent for media.timeout_s", at('media.mediaTimeouts')),
  counter('mra_media_srtp_auth_failures_total', 'SRTP packets that failed authentication', at('media.authFailures')),
  counter('mra_media_offers_refused_total', 'Offers refused (488, 503)', at('media.offersRefused')),
  counter(
    'mra_media_answers_unusable_total',
    'Answers whose SDP could not be used (that leg has no media)',
    at('media.answersUnusable'),
  ),
  gauge('mra_media_port_pairs_in_use', 'Media port pairs in use', at('media.portPairsInUse')),
  counter(
    'mra_media_packets_total',
    'Packets through the media engine (user space and its kernel path), by direction',
    each('direction', { in: 'media.packetsIn', out: 'media.packetsOut' }),
    ['direction'],
  ),
  counter(
    'mra_media_bytes_total',
    'Bytes through the media engine (user space and its kernel path), by direction',
    each('direction', { in: 'media.bytesIn', out: 'media.bytesOut' }),
    ['direction'],
  ),
  counter(
    'mra_media_unknown_mux_packets_total',
    'Edge: packets on a mux port from a source no call signalled',
    at('media.unknownMux'),
  ),
  counter('mra_media_socket_errors_total', 'Media socket receive and send errors', at('media.socketErrors')),
  // The engine's kernel path (docs/media.md, "Two paths"): edge and core in media, the relay role in relay.
  gauge(
    'mra_media_kernel_path',
    '1 when streams that need no change are forwarded in the kernel, 0 when every packet goes through user space',
    kernelPath('active'),
  ),
  gauge(
    'mra_media_kernel_flows',
    'Flows forwarded in the kernel now, one per direction of a stream',
    kernelPath('flows'),
  ),
  counter(
    'mra_media_kernel_packets_total',
    'Packets the kernel path forwarded (counted in mra_media_packets_total too)',
    kernelPath('packets'),
  ),
  counter(
    'mra_media_kernel_bytes_total',
    'Bytes the kernel path forwarded (counted in mra_media_bytes_total too)',
    kernelPath('bytes'),
  ),
  counter('mra_media_kernel_flows_installed_total', 'Flows put into the kernel', kernelPath('installs')),
  counter(
    'mra_media_kernel_flows_removed_total',
    'Flows taken back to user space (re-latch, new keys or remote, close)',
    kernelPath('removals'),
  ),
  counter(
    'mra_media_kernel_refusals_total',
    'Streams that qualified for the kernel but could not go in (no route, a device without Ethernet, a full table)',
    kernelPath('refusals'),
  ),

  // The tunnel (HTTP and XMPP planes over the traversal link)
  gauge(
    'mra_tunnel_sessions',
    'Multiplexed tunnel sessions over the traversal link, by plane',
    each('plane', { http: 'http.tunnel.sessions', xmpp: 'xmpp.tunnel.sessions' }),
    ['plane'],
  ),
  counter(
    'mra_tunnel_streams_total',
    'Tunnel streams opened (edge: forwarded; core: served), by plane',
    (doc) => [
      ...each('plane', { http: 'http.tunnel.forwarded', xmpp: 'xmpp.tunnel.forwarded' })(doc),
      ...each('plane', { http: 'http.tunnel.served', xmpp: 'xmpp.tunnel.served' })(doc),
    ],
    ['plane'],
  ),
  counter(
    'mra_tunnel_unavailable_total',
    'Edge: requests answered 502/503 because no tunnel to core was up, by plane',
    each('plane', { http: 'http.tunnel.unavailable', xmpp: 'xmpp.tunnel.unavailable' }),
    ['plane'],
  ),

  // HTTPS proxy (core)
  counter(
    'mra_http_authorizations_total',
    'Core: requests authorized, by how',
    each('method', {
      basic: 'http.authorization.basic',
      cached: 'http.authorization.cached',
      token: 'http.authorization.token',
      session: 'http.authorization.session',
    }),
    ['method'],
  ),
  counter(
    'mra_http_authorization_failures_total',
    'Core: requests not authorized, by reason',
    each('reason', { refused: 'http.authorization.failed', rate_limited: 'http.authorization.rateLimited' }),
    ['reason'],
  ),
  counter(
    'mra_http_authorization_challenges_total',
    'Core: requests that carried no credential at all, answered 401 with the challenge (not counted as failures)',
    at('http.authorization.challenged'),
  ),
  gauge(
    'mra_http_token_signing_keys',
    "Core: call control's token signing keys held",
    at('http.authorization.tokenKeys'),
  ),
  gauge(
    'mra_http_allow_list_rules',
    'Core: HTTP allow-list rules, by kind',
    each('kind', { automatic: 'http.allowList.automatic', editable: 'http.allowList.editable' }),
    ['kind'],
  ),

  // Intrusion protection (edge)
  counter(
    'mra_intrusion_failures_total',
    'Edge: failures counted by intrusion protection, by category',
    byKey('category', 'intrusion.failures', (k) => k),
    ['category'],
  ),
  counter('mra_intrusion_blocks_total', 'Edge: addresses blocked', at('intrusion.blocks')),
  gauge('mra_intrusion_blocked_addresses', 'Edge: addresses blocked now', (doc) =>
    isObject(doc.intrusion) ? [[{}, list(doc, 'intrusion.blocked').length]] : [],
  ),

  // XMPP
  gauge('mra_xmpp_streams', 'XMPP streams (chat sessions) through this node', at('xmpp.streams')),
  counter('mra_xmpp_streams_opened_total', 'XMPP streams opened', at('xmpp.total')),
  counter('mra_xmpp_refused_total', 'XMPP streams refused, by reason', byKey('reason', 'xmpp.refused'), ['reason']),

  // TURN server (edge, with turn.enabled)
  gauge('mra_turn_allocations', 'Edge: TURN allocations held', at('turn.allocations')),
  gauge(
    'mra_turn_allocations_limit',
    'Edge: TURN allocations this node takes at most (new ones beyond it get 486)',
    at('turn.capacity.limit'),
  ),
  gauge('mra_turn_permissions', 'Edge: TURN permissions installed', at('turn.permissions')),
  gauge('mra_turn_channels', 'Edge: TURN channels bound', at('turn.channels')),
  gauge('mra_turn_tcp_connections', 'Edge: TCP connections to the TURN port', at('turn.tcpConnections')),
  counter(
    'mra_turn_packets_total',
    'Edge: packets relayed by the TURN server, by direction',
    each('direction', { to_peers: 'turn.packets.toPeers', to_clients: 'turn.packets.toClients' }),
    ['direction'],
  ),
  counter(
    'mra_turn_bytes_total',
    'Edge: bytes relayed by the TURN server, by direction',
    each('direction', { to_peers: 'turn.bytes.toPeers', to_clients: 'turn.bytes.toClients' }),
    ['direction'],
  ),
  counter(
    'mra_turn_allocations_ended_total',
    'Edge: TURN allocations ended, by how',
    byKey('reason', 'turn.allocationsEnded'),
    ['reason'],
  ),
  counter('mra_turn_refused_total', 'Edge: TURN requests refused, by reason', byKey('reason', 'turn.refused'), [
    'reason',
  ]),
  counter(
    'mra_turn_dropped_total',
    'Edge: packets the TURN server dropped, by reason',
    byKey('reason', 'turn.dropped'),
    ['reason'],
  ),

  // The relay role (ng)
  gauge('mra_relay_calls', 'Relay: calls (ng dialogues by Call-ID) held', at('relay.calls')),
  gauge(
    'mra_relay_calls_limit',
    'Relay: capacity.calls: offers for new calls beyond it are refused',
    at('relay.capacity'),
  ),
  gauge('mra_relay_relays', 'Relay: media relays open', at('relay.relays')),
  counter(
    'mra_relay_commands_total',
    'Relay: ng commands handled, by command',
    byKey('command', 'relay.commands', (k) => k),
    ['command'],
  ),
  counter('mra_relay_refused_total', 'Relay: ng commands refused, by reason', byKey('reason', 'relay.refused'), [
    'reason',
  ]),
  counter('mra_relay_packets_forwarded_total', 'Relay: media packets forwarded', at('relay.packetsForwarded')),
  gauge('mra_relay_port_pairs_in_use', 'Relay: media port pairs in use', at('relay.portPairsInUse')),

  // The shared store (memory, or Redis in a cluster: docs/cluster.md)
  gauge(
    'mra_store_up',
    '1 while the store answers (memory always; Redis: the last command and probe succeeded)',
    (doc) => (isObject(doc.store) ? [[{}, doc.store.state === 'up' ? 1 : 0]] : []),
  ),
  gauge('mra_store_latency_seconds', "Round trip of the store's last health probe", (doc) =>
    one(ms(figure(doc, 'store.latencyMs'))),
  ),
  counter(
    'mra_store_errors_total',
    'Store commands that failed (timeout, connection); the node answered from what it holds',
    at('store.errors'),
  ),
  gauge(
    'mra_store_pending_writes',
    'Writes made while the store was unreachable, waiting to be replayed',
    at('store.pending'),
  ),
  counter(
    'mra_store_reconciles_total',
    'Times the store came back and this node replayed (or republished) its writes',
    at('store.reconciles'),
  ),
  gauge(
    'mra_store_entries',
    'Entries in the store, by namespace',
    byKey('namespace', 'store.entries', (k) => k),
    ['namespace'],
  ),

  // Domains and discovery (core)
  gauge('mra_domains', "MRA domains: core's configured ones, the edge's as core last sent them", (doc) =>
    Array.isArray(doc.domains) ? [[{}, doc.domains.length]] : one(figure(doc, 'sip.domains')),
  ),
  gauge(
    'mra_discovery_stale',
    'Core: 1 when some cluster is served from an older answer or was not read for 24 h',
    at('discovery.stale'),
  ),
  gauge(
    'mra_discovery_publisher_up',
    "Core: 1 when the publisher's last discovery succeeded",
    (doc) => publishers(doc, (c) => (c.ok === true ? 1 : 0)),
    ['kind', 'publisher'],
  ),
  gauge(
    'mra_discovery_last_success_timestamp_seconds',
    'Core: when the publisher last answered discovery, seconds since the Unix epoch',
    (doc) => publishers(doc, (c) => seconds(c.lastSuccess)),
    ['kind', 'publisher'],
  ),
  gauge('mra_discovery_nodes', 'Core: inside nodes discovered or configured', (doc) =>
    isObject(doc.discovery) ? [[{}, list(doc, 'discovery.nodes').length]] : [],
  ),
  gauge('mra_discovery_zones', 'Core: neighbour zones derived from discovery', (doc) =>
    isObject(doc.discovery) ? [[{}, list(doc, 'discovery.zones').length]] : [],
  ),
];

function ms(v: number | undefined): number | undefined {
  return v === undefined ? undefined : v / 1000;
}
