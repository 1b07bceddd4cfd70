/**
 * What discovery derives from a cluster's answers: the nodes, the neighbor zones and search rules the SIP
 * plane routes through, and the automatic allow-list rules the HTTPS plane enforces. Pure data, so the planes
 * and the status page read the same thing.
 */
export type ClusterKind = 'unified_cm' | 'im_presence' | 'unity_connection';

/** Node types as the allow list names them; a Unified CM node is both call control and a TFTP server. */
export type InsideNodeType = 'unified_cm' | 'tftp' | 'im_presence' | 'unity_connection';

export interface DiscoveredNode {
  name: string;
  kind: ClusterKind;
  publisher: string;
  deployment: string;
  /** 'discovered' from the publisher, or 'static' from the configuration's nodes[]. */
  source: 'discovered' | 'static';
  ports: { https: number; tftp: number; sip?: number; sipTls?: number; voicemail?: number };
}

/** Shape the HTTPS plane's allow list takes (src/http InsideNode). */
export interface InsideNode {
  type: InsideNodeType;
  address: string;
  ports: { https?: number; tftp?: number; voicemail?: number };
  deployment: string;
}

export interface NeighborZone {
  /** CEtcp-<node> or CEtls-<node>: the names Expressway gives its automatic zones. */
  name: string;
  node: string;
  transport: 'tcp' | 'tls';
  port: number;
  /** TLS zones verify call control's certificate when discovery verified the publisher's. */
  tlsVerify: boolean;
  deployment: string;
}

/** A search rule per zone, same name, priority 45, as Expressway creates them. */
export interface SipRoute {
  name: string;
  priority: number;
  zone: string;
  /** verify: TLS only, the zone's TLS verify mode. */
  target: { host: string; port: number; transport: 'tcp' | 'tls'; verify?: boolean };
  deployment: string;
}

export interface AutomaticRule {
  type: InsideNodeType;
  scheme: 'http' | 'https';
  host: string;
  port: number;
  path: string;
  match: 'exact' | 'prefix';
  methods: readonly string[];
  deployment: string;
}

export const SEARCH_RULE_PRIORITY = 45;

// What each node type serves a remote client (UDS and TFTP on call control, EPASSoap/UDS on IM&P,
// VMREST on voicemail): the rows Expressway adds on discovery.
const RULES: Record<
  InsideNodeType,
  ReadonlyArray<Pick<AutomaticRule, 'scheme' | 'path' | 'match' | 'methods'> & { port: 'https' | 'tftp' | 'voicemail' }>
> = {
  unified_cm: [{ scheme: 'https', port: 'https', path: '/cucm-uds/', match: 'prefix', methods: ['GET', 'PUT'] }],
  tftp: [{ scheme: 'http', port: 'tftp', path: '/', match: 'prefix', methods: ['GET'] }],
  im_presence: [
    { scheme: 'https', port: 'https', path: '/EPASSoap/service/v80', match: 'exact', methods: ['POST'] },
    { scheme: 'https', port: 'https', path: '/cup-uds/', match: 'prefix', methods: ['GET'] },
  ],
  unity_connection: [
    {
      scheme: 'https',
      port: 'voicemail',
      path: '/vmrest/',
      match: 'prefix',
      methods: ['GET', 'POST', 'PUT', 'DELETE'],
    },
  ],
};

export function insideNodes(nodes: readonly DiscoveredNode[]): InsideNode[] {
  return nodes.flatMap((n): InsideNode[] => {
    const base = {
      address: n.name.toLowerCase(),
      ports: { https: n.ports.https, tftp: n.ports.tftp, voicemail: n.ports.voicemail },
      deployment: n.deployment,
    };
    if (n.kind === 'unified_cm')
      return [
        { type: 'unified_cm', ...base },
        { type: 'tftp', ...base },
      ];
    return [{ type: n.kind, ...base }];
  });
}

export function automaticRules(nodes: readonly DiscoveredNode[]): AutomaticRule[] {
  return insideNodes(nodes).flatMap((n) =>
    RULES[n.type].map((r) => ({
      ...r,
      type: n.type,
      host: n.address,
      port: n.ports[r.port] ?? 443,
      deployment: n.deployment,
    })),
  );
}

/** CEtcp-<node> always; CEtls-<node> only in mixed mode (secure profiles fall back to TCP otherwise). */
export function neighborZones(
  nodes: readonly DiscoveredNode[],
  mixedMode: ReadonlyMap<string, boolean>,
  tlsVerify: ReadonlyMap<string, boolean>,
): NeighborZone[] {
  return nodes
    .filter((n) => n.kind === 'unified_cm')
    .flatMap((n) => {
      const zones: NeighborZone[] = [
        {
          name: `CEtcp-${n.name}`,
          node: n.name,
          transport: 'tcp',
          port: n.ports.sip ?? 5060,
          tlsVerify: false,
          deployment: n.deployment,
        },
      ];
      if (mixedMode.get(n.publisher)) {
        zones.push({
          name: `CEtls-${n.name}`,
          node: n.name,
          transport: 'tls',
          port: n.ports.sipTls ?? 5061,
          tlsVerify: tlsVerify.get(n.publisher) ?? true,
          deployment: n.deployment,
        });
      }
      return zones;
    });
}

export function sipRoutes(zones: readonly NeighborZone[]): SipRoute[] {
  return zones.map((z) => ({
    name: z.name,
    priority: SEARCH_RULE_PRIORITY,
    zone: z.name,
    target: {
      host: z.node,
      port: z.port,
      transport: z.transport,
      ...(z.transport === 'tls' ? { verify: z.tlsVerify } : {}),
    },
    deployment: z.deployment,
  }));
}
