import { z } from 'zod';

// The core's model of the inside: MRA domains and the servers behind them (Expressway-C's
// "Configuration > Domains" and "Unified Communications > Unified CM / IM and Presence / Unity Connection servers").

const hostName = z
  .string()
  .regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/, 'must be a DNS name');
const port = (fallback: number) =>
  z.number().int().min(1, 'must be from 1 to 65535').max(65535, 'must be from 1 to 65535').default(fallback);

export const domainSchema = z.strictObject({
  name: hostName,
  /** "SIP registrations and provisioning on Unified CM": MRA registrations for this domain go to call control. */
  sip_registrations: z.boolean().default(false),
  /** "SIP registrations and provisioning on Expressway": the node itself is the registrar (not used by MRA). */
  on_node: z.boolean().default(false),
  /** "IM and Presence Service registrations and provisioning". */
  im_presence: z.boolean().default(false),
  /** "XMPP federation". */
  xmpp_federation: z.boolean().default(false),
  /** Deployment (partition) the domain belongs to. */
  deployment: z.string().min(1).default('default'),
});

const credentials = {
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  password_file: z.string().min(1).optional(),
};

/** A statically known node of an inside cluster; discovery adds the rest. */
const staticNode = z.strictObject({
  address: hostName.or(z.ipv4()).or(z.ipv6()),
  sip_port: port(5060),
  sip_tls_port: port(5061),
  https_port: port(8443),
  tftp_port: port(6970),
  /** IM and Presence: client-to-server XMPP (STARTTLS), where core relays remote clients' streams. */
  xmpp_port: port(5222),
});

const cluster = (defaults: { https_port: number }) =>
  z.strictObject({
    /** The publisher: where discovery asks for the cluster's nodes, security mode and token keys. */
    publisher: hostName.or(z.ipv4()).or(z.ipv6()),
    https_port: port(defaults.https_port),
    ...credentials,
    /** Verify the publisher's certificate during discovery (Expressway's "TLS verify mode"). */
    tls_verify: z.boolean().default(true),
    deployment: z.string().min(1).default('default'),
    /** Cluster security mode "mixed": core reaches its nodes over SIP TLS (sip_tls_port) instead of TCP. */
    mixed_mode: z.boolean().default(false),
    /** Nodes known without discovery (the lab, or a cluster discovery cannot reach yet). */
    nodes: z.array(staticNode).default([]),
  });

export const insideSchema = {
  domains: z.array(domainSchema).default([]),
  unified_cm: z.array(cluster({ https_port: 8443 })).default([]),
  im_presence: z.array(cluster({ https_port: 8443 })).default([]),
  unity_connection: z.array(cluster({ https_port: 443 })).default([]),
};

export type DomainConfig = z.output<typeof domainSchema>;
