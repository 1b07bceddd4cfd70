import type { EdgeLinkStatus, LinkStatus } from '../traversal/index.js';

interface StatusDoc {
  node: string;
  role: 'edge' | 'core' | 'relay';
  started: string;
  traversal: LinkStatus | EdgeLinkStatus;
  relay?: { calls: number; relays: number; ng: { ports: Record<string, number> } };
}

/** Prints a node's status; returns the exit code: 0 link up, 1 link not up, 2 admin API unreachable. */
export async function printStatus(url: string, token: string | undefined, json: boolean): Promise<number> {
  let doc: StatusDoc;
  try {
    const res = await fetch(`${url.replace(/\/$/, '')}/api/status`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) {
      process.stderr.write(`${url}: HTTP ${res.status}: ${await res.text()}\n`);
      return 2;
    }
    doc = (await res.json()) as StatusDoc;
  } catch (err) {
    process.stderr.write(`${url}: admin API unreachable: ${(err as Error).cause ?? (err as Error).message}\n`);
    return 2;
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    return doc.role === 'relay' || doc.traversal.state === 'up' ? 0 : 1;
  }
  const lines = [`${doc.role} ${doc.node} (since ${doc.started})`];
  if (doc.role === 'relay') {
    // A relay has no traversal link: it is up when its admin API answers.
    const r = doc.relay;
    lines.push(`ng control: ${Object.entries(r?.ng.ports ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')}; calls ${r?.calls ?? 0}, relays ${r?.relays ?? 0}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  }
  if (doc.role === 'core') {
    const t = doc.traversal as LinkStatus;
    lines.push(`traversal link: ${t.state}${t.peer ? ` to ${t.peerNode ?? '?'} at ${t.peer}` : ''} since ${t.since}`);
    lines.push(`  channels: ${Object.entries(t.channels).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    lines.push(`  rtt: ${t.rttMs ?? '-'} ms, reconnects: ${t.reconnects}, failed attempts: ${t.failedAttempts}`);
    if (t.lastError) lines.push(`  last error: ${t.lastError}`);
  } else {
    const t = doc.traversal as EdgeLinkStatus;
    lines.push(`traversal: ${t.state}, ${t.cores.length} core node(s)`);
    for (const c of t.cores) lines.push(`  ${c.node} from ${c.remote} since ${c.since}: ${Object.entries(c.channels).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return doc.traversal.state === 'up' ? 0 : 1;
}
