import { z } from 'zod';
import { insideSchema } from './inside.js';
import { turnSection } from './turn.js';
import { clusterSection, storeField } from './cluster.js';

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
  z
    .number({ error: 'must be a port number' })
    .int('must be a whole number')
    .min(0, 'must be from 0 to 65535')
    .max(65535, 'must be from 0 to 65535')
    .default(fallback);

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
    /** Bearer token every request but the (data-free) page must carry; or token_file, or client certificates. */
    token: z.string().min(16, 'must be at least 16 characters').optional(),
    /** A file holding the token (readable by the service only), so the YAML can be shared. */
    token_file: filePath.optional(),
    /**
     * HTTPS for the admin API: required when it listens on anything but loopback. With client_ca_file, TLS itself
     * refuses a client without a certificate that CA signed (client-certificate auth instead of, or beside, the token).
     */
    tls: z.strictObject({ cert_file: filePath, key_file: filePath, client_ca_file: filePath.optional() }).optional(),
  })
  .refine((a) => a.token === undefined || a.token_file === undefined, {
    message: 'give at most one of token or token_file',
    path: ['token'],
  })
  .prefault({});

const log = z
  .strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
  .prefault({});

const mediaFields = {
  port_min: port(DEFAULT_PORTS.mediaMin),
  port_max: port(DEFAULT_PORTS.mediaMax),
  /** Where the media engine binds (default: edge, its public address when that is also its traversal address; core, 0.0.0.0). */
  address: z.ipv4().optional(),
  /** A relay leg silent this long on an answered call is reported (logged and counted; the call goes on). 0: never. */
  timeout_s: z.number().min(0).default(60),
  /**
   * auto: streams that pass through unchanged (the edge's SRTP both ways, plain RTP to RTP) are forwarded by a BPF
   * program in the kernel once latched, where the machine allows it (else the engine says why at start); off: every
   * packet through the engine's threads.
   */
  kernel_path: z.enum(['auto', 'off']).default('auto'),
};
const mediaRange = (m: { port_min: number; port_max: number }) => m.port_min > 0 && m.port_max >= m.port_min + 3;
const rangeError = {
  message: 'port_min..port_max must hold at least two port pairs (and port_min must not be 0)',
  path: ['port_max'],
};
const media = z.strictObject(mediaFields).refine(mediaRange, rangeError).prefault({});
/** The edge's: plus the address it writes into the SDP it sends clients (a NAT's public address). */
const edgeMedia = z
  .strictObject({ ...mediaFields, public_address: z.ipv4().optional() })
  .refine(mediaRange, rangeError)
  .prefault({});
/**
 * Core's: plus the keepalive on its legs towards the edge. Core sends first (the DMZ firewall drops what the edge
 * starts inwards), so each such leg sends a 0-byte datagram (RFC 6263 §4.1) as soon as it knows the edge's port and
 * whenever it has sent nothing for this long: a client that speaks first is heard, and a one-way silence (mute, hold)
 * does not let the firewall's flow expire. RFC 6263's default, 15 s, is inside conntrack's 30 s for an unanswered flow.
 */
const coreMedia = z
  .strictObject({
    ...mediaFields,
    keepalive_s: z.number().min(1).max(300).default(15),
    /** An answered call's stream silent for timeout_s: `report` logs and counts it; `hangup` also ends the call with a BYE each way. */
    timeout_action: z.enum(['report', 'hangup']).default('report'),
  })
  .refine(mediaRange, rangeError)
  .prefault({});

const keepalive = seconds(15, 0.1);

/** An optional HEP v3 feed of the node's SIP (outside the traversal link) to a Homer collector, over UDP. */
const hep = z
  .strictObject({
    address,
    port: port(9060),
    /** The capture agent ID Homer shows for this node. */
    agent_id: z.number().int().min(0).max(4294967295).default(2001),
    /** The collector's authentication key, when it asks for one. */
    password: z.string().min(1).optional(),
  })
  .optional();

/**
 * Registrations this node accepts (Expressway: 2,500 for every OVA size; newer releases allow more), and call legs
 * (a Large node's 500 video calls; 1,000 if they are all audio).
 */
const capacity = z
  .strictObject({ registrations: z.number().int().min(1).default(2500), calls: z.number().int().min(1).default(500) })
  .prefault({});

const common = {
  capacity,
  /** Node name: its host name in this deployment (edge1, core1). */
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/, 'must be a host-name-like label')
    .default('node1'),
  /** Expressway OVA size: sets the number of multiplexed media port pairs (large: 6, small/medium: 1). */
  size: z.enum(['small', 'medium', 'large']).default('small'),
  /** Start in maintenance mode: refuse new registrations, sign-ins and calls; the admin API turns it off. */
  maintenance_mode: z.boolean().default(false),
  log,
  admin,
  tls,
  media,
  hep,
  /** Where shared state lives: memory (default) or Redis (docs/cluster.md). */
  store: storeField,
  cluster: clusterSection,
};

const edgeAccount = z.strictObject({
  username: z.string().min(1),
  /** scrypt$N$r$p$salt$hash as printed by `mra-edge hash-password`; the edge never stores the password. */
  password_hash: z
    .string()
    .regex(
      /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/,
      'must be the output of `mra-edge hash-password`',
    ),
});

/** The HTTPS edge proxy (docs/http.md): listener limits and intrusion protection on the edge. */
const intrusionCategory = (trigger: number, window_s: number, block_s: number) =>
  z
    .strictObject({
      enabled: z.boolean().default(true),
      trigger: z.number().int().min(1).default(trigger),
      window_s: seconds(window_s, 1),
      block_s: seconds(block_s, 1),
    })
    .prefault({});
const edgeHttp = z
  .strictObject({
    /** The edge's public host name as written into the edge configuration (default: its certificate's first DNS name). */
    public_name: z.string().min(1).optional(),
    /** Certificates offered by SNI when a client asks for the name they carry (else the node's own). */
    domain_certs: z.array(z.strictObject({ cert_file: filePath, key_file: filePath })).default([]),
    max_header_bytes: z.number().int().min(1024).max(1048576).default(16384),
    max_body_bytes: z.number().int().min(0).default(1048576),
    max_requests_per_connection_per_s: z.number().int().min(1).default(200),
    header_timeout_s: seconds(10, 0.1),
    idle_timeout_s: seconds(60, 0.1),
    intrusion: z
      .strictObject({
        /** Addresses or CIDR blocks never blocked (a NAT many users share). */
        exemptions: z.array(z.string().min(1)).default([]),
        http_auth: intrusionCategory(5, 60, 600),
        allow_list: intrusionCategory(5, 60, 600),
        tunnel_auth: intrusionCategory(5, 60, 600),
        /** Failed XMPP sign-ins (SASL failures the inside answered) from one address. */
        xmpp: intrusionCategory(5, 60, 600),
      })
      .prefault({}),
  })
  .prefault({});

/** The HTTPS edge proxy on core: the HTTP allow list and authorization (docs/http.md). */
const httpMethod = z.string().regex(/^[A-Z]{1,16}$/, 'must be an HTTP method in capitals');
const coreHttp = z
  .strictObject({
    allow_list: z
      .strictObject({
        default_methods: z.array(httpMethod).min(1).default(['GET']),
        /** Editable rules in the seeds' CSV format (Url,Deployment,HttpMethods,MatchType,Description), read at start and by the http-allow-list-reload action. */
        csv_file: z.string().regex(/^\//, 'must be an absolute path').optional(),
        rules: z
          .array(
            z.strictObject({
              url: z.string().regex(/^https?:\/\/[^/\s]+/, 'must be an http(s)://host[:port][/path] URL'),
              /** Omitted: the default method set. */
              methods: z.array(httpMethod).min(1).optional(),
              match: z.enum(['exact', 'prefix']).default('prefix'),
              deployment: z.string().min(1).default('default'),
              description: z.string().default(''),
            }),
          )
          .default([]),
      })
      .prefault({}),
    authorization: z
      .strictObject({
        credentials_refresh_min: z.number().min(1).default(480),
        cleanup_min: z.number().min(1).default(720),
        max_authorizations_per_period: z.number().int().min(0).default(10),
        rate_control_period_s: seconds(60, 1),
        /** Accepted `iss` of OAuth tokens (what call control writes there); empty: any issuer whose key call control publishes. */
        token_issuers: z.array(z.string().min(1)).default([]),
        /** When set, a token's `aud` must hold it. */
        token_audience: z.string().min(1).optional(),
        /** Leeway on a token's `exp` and `nbf` for clocks a little apart. */
        token_clock_skew_s: z.number().min(0).max(300).default(30),
      })
      .prefault({}),
    /** The get_edge_sso answer: whether clients should sign in with SSO/OAuth. */
    sso_enabled: z.boolean().default(false),
  })
  .prefault({});

export const edgeSchema = z.strictObject({
  role: z.literal('edge'),
  ...common,
  media: edgeMedia,
  /** The public face: what remote clients connect to. */
  public: z
    .strictObject({
      address: address.default('0.0.0.0'),
      sip_tls_port: port(DEFAULT_PORTS.sipTls),
      https_port: port(DEFAULT_PORTS.https),
      xmpp_port: port(DEFAULT_PORTS.xmpp),
    })
    .prefault({}),
  /** Client-facing SIP over TLS (public.sip_tls_port): the guards against slow, idle or too many clients. */
  sip: z
    .strictObject({
      header_timeout_s: seconds(10, 0.1),
      idle_timeout_s: seconds(600, 1),
      max_connections: z.number().int().min(1).default(20000),
      /**
       * Native threads that terminate TLS and frame SIP for clients. One leaves the other core of a 2-core node
       * to JavaScript (17 % more registrations/s than two, measured); more help a larger node's handshake storms.
       */
      tls_threads: z.number().int().min(1).max(8).default(1),
      /**
       * Sustained overload: a client's request that has waited this long behind the others is answered 503 with
       * Retry-After at once instead of being forwarded late (its client would give up on it). 0: never.
       */
      max_queue_wait_s: z.number().min(0).max(60).default(5),
    })
    .prefault({}),
  /** Client-facing XMPP (public.xmpp_port, docs/xmpp.md): the guards on each remote client's stream. */
  xmpp: z
    .strictObject({
      /** Largest stanza (any top-level element) a client may send, in characters. */
      max_stanza_chars: z.number().int().min(1024).max(16777216).default(65536),
      max_stanzas_per_s: z.number().int().min(1).default(50),
      /** From the TCP connection to the bound resource: STARTTLS, SASL and bind. */
      handshake_timeout_s: seconds(20, 0.1),
      /** Silence from the client (no stanza, no whitespace keepalive) that ends its stream. */
      idle_timeout_s: seconds(300, 1),
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
  http: edgeHttp,
  turn: turnSection,
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
  /**
   * The address core's own connections leave from: the traversal link, call control, the inside servers (HTTP,
   * XMPP, AXL). Core names its connections' local address in the SIP it sends (Record-Route, Path, Via), so on a
   * host with several addresses this says which one is core's. Default: whatever the route to each peer picks.
   */
  source_address: z.ipv4().optional(),
  media: coreMedia,
  ...insideSchema,
  sip: z
    .strictObject({
      /** "SIP Path headers: on": core adds itself to Path; off: core rewrites Contact instead. */
      path_headers: z.boolean().default(true),
      idle_timeout_s: seconds(600, 1),
    })
    .prefault({}),
  http: coreHttp,
  /** The relay of remote clients' XMPP streams to IM and Presence (docs/xmpp.md). */
  xmpp: z
    .strictObject({
      /** Per IM and Presence node tried: TCP, stream header, STARTTLS and the TLS handshake. */
      connect_timeout_s: seconds(10, 0.1),
    })
    .prefault({}),
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

/**
 * The relay (docs/relay.md): the media engine on its own, driven over rtpengine's ng control protocol by Kamailio's or
 * OpenSIPS's rtpengine module. No traversal link and no certificate of its own (ng.tls has one when TLS is wanted).
 */
const ngListener = (fallback: number) =>
  z.strictObject({ address: address.default('127.0.0.1'), port: port(fallback) });
export const relaySchema = z.strictObject({
  role: z.literal('relay'),
  name: common.name,
  maintenance_mode: common.maintenance_mode,
  log,
  admin,
  media,
  /** Calls (offer/answer dialogues) held at once; an offer for a new one beyond it is refused. */
  capacity: z.strictObject({ calls: z.number().int().min(1).default(500) }).prefault({}),
  /**
   * rtpengine's logical interfaces: what the SDP says for each side of a call (`direction` names them). The first is
   * the default; media.address is where the ports are bound (default 0.0.0.0, every interface).
   */
  interfaces: z
    .array(
      z.strictObject({
        name: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/, 'must be a name of letters, digits, _ . -'),
        address: z.ipv4(),
        /** Written into SDP instead of `address` (a NAT's public address). */
        advertised_address: z.ipv4().optional(),
      }),
    )
    .min(1, 'needs at least one interface'),
  ng: z
    .strictObject({
      /** UDP, as Kamailio's and OpenSIPS's rtpengine modules speak it (rtpengine's --listen-ng). */
      udp: ngListener(2223).prefault({}),
      /** Optional: the same messages over TCP (rtpengine's --listen-tcp-ng). */
      tcp: ngListener(2223).optional(),
      /** Optional: over TLS; with ca_file, clients must present a certificate it signed. */
      tls: z
        .strictObject({
          ...ngListener(2224).shape,
          cert_file: filePath,
          key_file: filePath,
          ca_file: filePath.optional(),
        })
        .optional(),
      /** Control sources allowed (addresses or CIDR blocks); anything else is refused. */
      allow: z.array(z.string().min(1)).min(1, 'needs at least one address or CIDR block').default(['127.0.0.1']),
      /** Offers per second beyond which an offer is refused (load limit), so a flood cannot take every port. */
      max_offers_per_s: z.number().int().min(1).default(500),
      /** How long a deleted call's media goes on (rtpengine's delete-delay); a message's `delete delay` overrides it. */
      delete_delay_s: z.number().min(0).max(3600).default(30),
      /** How long a reply is kept to answer a retransmitted command (same cookie) without running it again. */
      cookie_cache_s: z.number().min(1).max(600).default(30),
      /** An offer never answered is dropped after this long (rtpengine's offer-timeout). */
      offer_timeout_s: z.number().min(1).default(3600),
      /** Largest message on TCP/TLS (a UDP datagram is at most 64 KiB anyway). */
      max_message_bytes: z.number().int().min(1024).max(16777216).default(1048576),
    })
    .prefault({}),
});

export const nodeSchema = z.discriminatedUnion('role', [edgeSchema, coreSchema, relaySchema], {
  error: 'role must be "edge", "core" or "relay"',
});

export type EdgeConfig = z.output<typeof edgeSchema>;
export type CoreConfig = z.output<typeof coreSchema>;
export type RelayConfig = z.output<typeof relaySchema>;
export type RelayConfigInput = z.input<typeof relaySchema>;
export type NodeConfig = EdgeConfig | CoreConfig | RelayConfig;
export type EdgeConfigInput = z.input<typeof edgeSchema>;
export type CoreConfigInput = z.input<typeof coreSchema>;

/** Fields whose value names a file that must exist; checked after the schema, with the same error form. */
export const FILE_FIELDS: ReadonlyArray<readonly (string | number)[]> = [
  ['tls', 'cert_file'],
  ['tls', 'key_file'],
  ['tls', 'ca_file'],
  ['traversal', 'password_file'],
  ['admin', 'token_file'],
  ['admin', 'tls', 'cert_file'],
  ['admin', 'tls', 'key_file'],
  ['admin', 'tls', 'client_ca_file'],
  ['turn', 'secret_file'],
  ['cluster', 'store_password_file'],
];
