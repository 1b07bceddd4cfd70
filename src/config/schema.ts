import { z } from 'zod';
import { insideSchema } from './inside.js';

// Defaults follow Expressway's port map, so a site can put us behind its existing firewall rules.
export const DEFAULT_PORTS = {
  sipTls: 5061,
  https: 8443,
  xmpp: 5222,
  traversalSip: 7001,
  httpTunnel: 2222,
  xmppTraversal: 7400,
  mediaMin: 36000,
  mediaMax: 59999,
} as const;

/** 0 asks the OS for any free port: meant for tests, where many nodes share one machine. */
const port = (fallback: number) =>
  z.number({ error: 'must be a port number' }).int('must be a whole number').min(0, 'must be from 0 to 65535').max(65535, 'must be from 0 to 65535').default(fallback);

const address = z.string().min(1, 'must be a host name or IP address');
const filePath = z.string().min(1, 'must be a file path');
const seconds = (fallback: number, min: number) => z.number().min(min, `must be at least ${min} s`).default(fallback);

const tls = z.strictObject({
  /** The node's own certificate (PEM); edge: serverAuth, core: clientAuth + serverAuth. */
  cert_file: filePath,
  key_file: filePath,
  /** The CA (PEM bundle) that signed the peer's certificate. */
  ca_file: filePath,
});

const admin = z
  .strictObject({
    address: address.default('127.0.0.1'),
    port: port(9090),
    /** Required when the admin API listens on anything but loopback. */
    token: z.string().min(16, 'must be at least 16 characters').optional(),
  })
  .prefault({});

const log = z
  .strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
  .prefault({});

const media = z
  .strictObject({
    port_min: port(DEFAULT_PORTS.mediaMin),
    port_max: port(DEFAULT_PORTS.mediaMax),
  })
  .prefault({});

const keepalive = seconds(15, 0.1);

const common = {
  /** Node name: its host name in this deployment (edge1, core1). */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/, 'must be a host-name-like label').default('node1'),
  /** Expressway OVA size: sets the number of multiplexed media port pairs (large: 6, small/medium: 1). */
  size: z.enum(['small', 'medium', 'large']).default('small'),
  log,
  admin,
  tls,
  media,
};

const edgeAccount = z.strictObject({
  username: z.string().min(1),
  /** scrypt$N$r$p$salt$hash as printed by `mra-edge hash-password`; the edge never stores the password. */
  password_hash: z.string().regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, 'must be the output of `mra-edge hash-password`'),
});

export const edgeSchema = z.strictObject({
  role: z.literal('edge'),
  ...common,
  /** The public face: what remote clients connect to. */
  public: z
    .strictObject({
      address: address.default('0.0.0.0'),
      sip_tls_port: port(DEFAULT_PORTS.sipTls),
      https_port: port(DEFAULT_PORTS.https),
      xmpp_port: port(DEFAULT_PORTS.xmpp),
    })
    .prefault({}),
  /** The traversal server: where core dials in. */
  traversal: z.strictObject({
    address: address.default('0.0.0.0'),
    sip_port: port(DEFAULT_PORTS.traversalSip),
    http_tunnel_port: port(DEFAULT_PORTS.httpTunnel),
    xmpp_port: port(DEFAULT_PORTS.xmppTraversal),
    /** Must appear in the core certificate's SAN (or CN): Expressway's "TLS verify subject name". */
    tls_verify_subject_name: z.string().min(1),
    accounts: z.array(edgeAccount).min(1, 'needs at least one traversal account'),
    keepalive_s: keepalive,
    handshake_timeout_s: seconds(5, 0.1),
  }),
});

const edgePeer = z.strictObject({
  /** The edge's address as core dials it; the edge certificate must carry it in its SAN. */
  address,
  sip_port: port(DEFAULT_PORTS.traversalSip),
  http_tunnel_port: port(DEFAULT_PORTS.httpTunnel),
  xmpp_port: port(DEFAULT_PORTS.xmppTraversal),
});

export const coreSchema = z.strictObject({
  role: z.literal('core'),
  ...common,
  ...insideSchema,
  traversal: z
    .strictObject({
      /** Peer 1 … Peer 6: the edge cluster's nodes, tried in order with failover. */
      peers: z.array(edgePeer).min(1, 'needs at least one edge peer').max(6, 'at most 6 edge peers'),
      username: z.string().min(1),
      password: z.string().min(1).optional(),
      password_file: filePath.optional(),
      keepalive_s: keepalive,
      reconnect_initial_s: seconds(1, 0.05),
      reconnect_max_s: seconds(30, 0.1),
      connect_timeout_s: seconds(10, 0.1),
    })
    .refine((t) => (t.password === undefined) !== (t.password_file === undefined), {
      message: 'give exactly one of password or password_file',
      path: ['password'],
    }),
});

export const nodeSchema = z.discriminatedUnion('role', [edgeSchema, coreSchema], {
  error: 'role must be "edge" or "core"',
});

export type EdgeConfig = z.output<typeof edgeSchema>;
export type CoreConfig = z.output<typeof coreSchema>;
export type NodeConfig = EdgeConfig | CoreConfig;
export type EdgeConfigInput = z.input<typeof edgeSchema>;
export type CoreConfigInput = z.input<typeof coreSchema>;

/** Fields whose value names a file that must exist; checked after the schema, with the same error form. */
export const FILE_FIELDS: ReadonlyArray<readonly (string | number)[]> = [
  ['tls', 'cert_file'],
  ['tls', 'key_file'],
  ['tls', 'ca_file'],
  ['traversal', 'password_file'],
];
