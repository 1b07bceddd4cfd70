import { age } from './table.js';

/** The status document as `GET /api/status` gives it; each plane's section is optional (an edge has no discovery). */
// biome-ignore lint/suspicious/noExplicitAny: the status JSON is read as the node wrote it, field by field, for display only
export type StatusDoc = Record<string, any> & {
  node: string;
  role: 'edge' | 'core' | 'relay';
  started: string;
  maintenance?: boolean;
};

const list = (o: Record<string, unknown> | undefined) =>
  Object.entries(o ?? {})
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
/** Which path pass-through streams take (docs/media.md, "Two paths"), and how much the kernel carries. */
// biome-ignore lint/suspicious/noExplicitAny: a section of the untyped status document (see StatusDoc)
const kernelPathLine = (k: Record<string, any>) =>
  k.active
    ? `kernel path: on (${(k.interfaces ?? []).join(', ')}), ${k.flows} flow(s) in the kernel now, ${k.packets} packet(s) forwarded there; refusals ${k.refusals}`
    : `kernel path: off, ${k.reason}`;

/** Every plane of a node in a few lines each, in the order an operator reads them: node, alarms, link, then traffic. */
export function renderStatus(doc: StatusDoc): string {
  const out: string[] = [];
  out.push(
    `${doc.role} ${doc.node} (mra-edge ${doc.version ?? '?'}), up ${age(doc.started)}, maintenance ${doc.maintenance ? 'ON' : 'off'}`,
  );
  if (doc.drain)
    out.push(`  drain: ${doc.drain.drained ? 'drained, safe to stop' : `active ${list(doc.drain.active)}`}`);
  const alarms = (doc.alarms ?? []) as Array<Record<string, string>>;
  out.push(`alarms: ${alarms.length ? alarms.length : 'none'}`);
  for (const a of alarms)
    out.push(
      `  ${String(a.severity).toUpperCase()} ${a.id}: ${a.message} (since ${a.since}${a.acknowledged ? ', acknowledged' : ''})`,
    );

  if (doc.role === 'relay' && doc.relay) {
    // A relay has no traversal link: its ng control sockets and the calls it carries.
    const r = doc.relay;
    out.push(`ng control: ${list(r.ng?.ports ?? {})}; calls ${r.calls ?? 0}, relays ${r.relays ?? 0}`);
    if (r.kernelPath) out.push(`  ${kernelPathLine(r.kernelPath)}`);
  }
  const t = doc.traversal;
  if (t && doc.role === 'core') {
    out.push(`traversal link: ${t.state}${t.peer ? ` to ${t.peerNode ?? '?'} at ${t.peer}` : ''} since ${t.since}`);
    out.push(
      `  channels: ${list(t.channels)}; rtt ${t.rttMs ?? '-'} ms, reconnects ${t.reconnects}, failed attempts ${t.failedAttempts}`,
    );
    if (t.lastError) out.push(`  last error: ${t.lastError}`);
    // A core of a cluster links to every edge peer: each link on its own line.
    if (Array.isArray(t.links) && t.links.length > 1)
      for (const l of t.links)
        out.push(
          `  link to ${l.peerNode ?? '?'} at ${l.peer}: ${l.state} since ${l.since}; channels ${list(l.channels)}${l.rttMs !== undefined ? `, rtt ${l.rttMs} ms` : ''}${l.lastError && l.state !== 'up' ? `; ${l.lastError}` : ''}`,
        );
  } else if (t) {
    out.push(
      `traversal: ${t.state}, ${t.cores.length} core node(s)${t.refused && Object.keys(t.refused).length ? `; refused: ${list(t.refused)}` : ''}`,
    );
    for (const c of t.cores) out.push(`  ${c.node} from ${c.remote} since ${c.since}: ${list(c.channels)}`);
    if (t.lastError) out.push(`  last refusal: ${t.lastError}`);
  }
  if (Array.isArray(doc.domains))
    out.push(
      // biome-ignore lint/suspicious/noExplicitAny: a section of the untyped status document (see StatusDoc)
      `domains: ${doc.domains.map((d: any) => `${d.name} (${(d.services ?? []).join('; ') || 'no services'})`).join(', ') || 'none'}`,
    );
  const disc = doc.discovery;
  if (disc) {
    // biome-ignore lint/suspicious/noExplicitAny: a section of the untyped status document (see StatusDoc)
    const clusters = (disc.clusters ?? []) as any[];
    out.push(
      `discovery: ${clusters.filter((c) => c.ok).length} of ${clusters.length} publishers answered, ${(disc.nodes ?? []).length} node(s), refreshed ${disc.refreshedAt ?? 'never'}${disc.stale ? `, STALE${disc.staleReason ? `: ${disc.staleReason}` : ''}` : ''}`,
    );
    out.push(`  zones: ${(disc.zones ?? []).join(', ') || 'none'}`);
    for (const c of clusters.filter((x) => !x.ok)) out.push(`  ${c.kind} ${c.publisher}: ${c.error ?? 'failed'}`);
  }
  const sip = doc.sip;
  if (sip && Object.keys(sip).length) {
    out.push(
      `sip: ${sip.registrations} registration(s) of ${sip.capacity}, ${sip.calls ?? 0} call leg(s), refused ${sip.refused ?? 0}`,
    );
    if (doc.role === 'edge')
      out.push(
        `  clients: ${sip.connections} connection(s), TLS accepted ${sip.tls?.accepted ?? 0}, failed ${sip.tls?.handshakeFailures ?? 0}; messages from clients ${sip.fromClients ?? 0}, to clients ${sip.toClients ?? 0}; overload shed ${sip.overloadShed ?? 0}`,
      );
    else
      out.push(
        `  call control: ${(sip.callControl ?? []).join(', ') || 'none'} (${sip.callControlConnections ?? 0} connection(s)); to call control ${sip.toCallControl ?? 0}, to edge ${sip.toEdge ?? 0}`,
      );
  }
  const m = doc.media;
  if (m)
    out.push(
      `media: ${m.calls} call(s) of ${m.capacity}, ${m.relays} relay(s), packets in ${m.packetsIn ?? 0} out ${m.packetsOut ?? 0}, SRTP failures ${m.authFailures}, timeouts ${m.mediaTimeouts}; ${m.srtpBackend ?? ''}`,
    );
  if (m?.kernelPath) out.push(`  ${kernelPathLine(m.kernelPath)}`);
  const http = doc.http;
  if (http) {
    const tun = http.tunnel ?? {};
    out.push(
      `https tunnel: ${tun.sessions ?? 0} session(s), ${tun.forwarded ?? tun.served ?? 0} request(s)${tun.unavailable !== undefined ? `, ${tun.unavailable} with no tunnel up` : ''}`,
    );
    if (http.authorization)
      out.push(
        `  authorizations: ${list({ basic: http.authorization.basic, cached: http.authorization.cached, token: http.authorization.token, session: http.authorization.session })}; failed ${http.authorization.failed}, rate-limited ${http.authorization.rateLimited}; token keys ${http.authorization.tokenKeys}`,
      );
    if (http.allowList)
      out.push(`  allow list: ${http.allowList.automatic} automatic, ${http.allowList.editable} editable rule(s)`);
  }
  const x = doc.xmpp;
  if (x)
    out.push(
      `xmpp: ${x.streams} stream(s) now, ${x.total} opened${Object.keys(x.refused ?? {}).length ? `, refused ${list(x.refused)}` : ''}; tunnel ${x.tunnel?.sessions ?? 0} session(s)`,
    );
  const i = doc.intrusion;
  if (i)
    out.push(
      `intrusion protection${i.shared ? ' (per cluster)' : ''}: ${(i.blocked ?? []).length} address(es) blocked now, ${i.blocks} block(s) in all; failures ${list(i.failures)}`,
    );
  const s = doc.store;
  if (s) out.push(`store: ${s.kind}; ${list(s.entries) || 'empty'}`);
  // biome-ignore lint/suspicious/noExplicitAny: a section of the untyped status document (see StatusDoc)
  const shared = Object.entries((doc.sharedConfig ?? {}) as Record<string, any>);
  if (shared.length)
    out.push(
      `shared configuration: ${shared
        .map(
          ([name, c]) =>
            `${name} version ${c.version}${c.by ? ` by ${c.by}` : ''}${c.differsFromFile ? " (this node's file differs)" : ''}`,
        )
        .join(', ')}`,
    );
  return out.join('\n');
}
