// Where core may send SIP: the call-control nodes of each Unified CM cluster, as discovery last read them from
// the publisher (its CEtcp-/CEtls- search rules), or the configuration's unified_cm[].nodes for a cluster whose
// publisher has not answered yet. The proxy only ever sees the flat list; it never reads discovery itself.
import { hash } from 'node:crypto';
import type { DiscoveryResult } from '../../discovery/index.js';
import type { SipTarget } from '../transport/index.js';

/** One call-control node core may route to, and how to reach it. */
export interface CallControlRoute {
  deployment: string;
  /** The node's name (lower case), as a Route or Record-Route written by call control names it. */
  host: string;
  target: SipTarget;
}

/** A Unified CM cluster as configured (unified_cm[]): the fallback until its publisher answers discovery. */
export interface CallControlCluster {
  publisher: string;
  deployment: string;
  mixedMode: boolean;
  /** The cluster's tls_verify: whether core checks call control's certificate on SIP TLS. */
  tlsVerify: boolean;
  nodes: ReadonlyArray<{ address: string; sipPort: number; sipTlsPort: number }>;
}

/** TLS to the secure port for a mixed-mode cluster, TCP otherwise (as the configuration says). */
export function configuredRoutes(c: CallControlCluster): CallControlRoute[] {
  return c.nodes.map((n) => ({
    deployment: c.deployment,
    host: n.address.toLowerCase(),
    target: c.mixedMode
      ? { transport: 'tls', host: n.address, port: n.sipTlsPort, verify: c.tlsVerify }
      : { transport: 'tcp', host: n.address, port: n.sipPort },
  }));
}

/**
 * Per configured cluster: the nodes in the publisher's answer (its last good one, if it has failed since),
 * each by its TLS zone when the cluster is in mixed mode, else its TCP zone. Configured nodes the publisher
 * did not list get no SIP: the cluster says who is call control once it answers. A cluster never read
 * successfully keeps its configured nodes and mixed_mode.
 */
export function callControlRoutes(
  result: Pick<DiscoveryResult, 'nodes' | 'routes' | 'clusters'>,
  configured: readonly CallControlCluster[],
): CallControlRoute[] {
  const answered = new Set(
    result.clusters
      .filter((s) => s.kind === 'unified_cm' && s.lastSuccess !== undefined)
      .map((s) => s.publisher.toLowerCase()),
  );
  return configured.flatMap((c) => {
    if (!answered.has(c.publisher.toLowerCase())) return configuredRoutes(c);
    return result.nodes
      .filter(
        (n) =>
          n.kind === 'unified_cm' &&
          n.source === 'discovered' &&
          n.publisher.toLowerCase() === c.publisher.toLowerCase(),
      )
      .flatMap((n): CallControlRoute[] => {
        const zones = result.routes.filter((r) => r.target.host.toLowerCase() === n.name.toLowerCase());
        const r = zones.find((z) => z.target.transport === 'tls') ?? zones.find((z) => z.target.transport === 'tcp');
        return r ? [{ deployment: r.deployment, host: n.name.toLowerCase(), target: { ...r.target } }] : [];
      });
  });
}

/**
 * The node an address of record lives on: rendezvous hashing, so when a node joins only the users it wins
 * move to it, and when one leaves only its own users move; everyone else keeps their node.
 */
export function homeRoute(routes: readonly CallControlRoute[], aor: string): CallControlRoute | undefined {
  // One node wins whatever the scores: no hash per request for the usual single-node route list.
  if (routes.length <= 1) return routes[0];
  let best: CallControlRoute | undefined;
  let bestScore = -1;
  for (const r of routes) {
    // One-shot hash(): the same digest without a Hash object per node per request.
    const score = hash('sha1', `${aor}|${r.host}`, 'buffer').readUInt32BE(0);
    if (score > bestScore) [best, bestScore] = [r, score];
  }
  return best;
}
