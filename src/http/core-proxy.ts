import type { Logger } from '../log/index.js';
import type { AllowList } from './allow-list.js';
import type { Authorizer } from './authorize.js';
import type { CallControl } from './call-control.js';
import { edgeConfigXml, type ServiceRecord } from './edge-config.js';
import { RouteCache, RouteError } from './route.js';
import type { EdgeIdentity, TunnelAnswer, TunnelHandler, TunnelRequest } from '../traversal/index.js';
import type { Upstreams } from './upstream.js';

export interface CoreProxyDeps {
  coreNode: string;
  isDomain: (name: string) => boolean;
  allowList: AllowList;
  authorizer: Authorizer;
  callControl: CallControl;
  upstreams: Upstreams;
  /** The inside SRV answers for `_cisco-uds` / `_cuplogin` (from discovery, or the configured clusters). */
  services: () => ServiceRecord[];
  ssoEnabled: boolean;
  /** Core's maintenance mode (NodeContext.maintenance), read per request. */
  maintenance: () => boolean;
  /** Resolves when no discovery refresh is running: a new sign-in waits for it rather than failing mid-refresh. */
  ready?: () => Promise<unknown>;
  log: Logger;
}

const TEXT = { 'content-type': 'text/plain; charset=utf-8' };

function refuse(
  status: number,
  reason: string,
  verdict?: TunnelAnswer['verdict'],
  extra: Record<string, string> = {},
): TunnelAnswer {
  return {
    status,
    headers: { ...TEXT, 'cache-control': 'no-store', ...extra },
    body: `${reason}\n`,
    ...(verdict ? { verdict } : {}),
  };
}

/**
 * Core's handling of one request from the tunnel, in the order that keeps the inside safe: route decoding and
 * the domain check, then the allow list (no look-up for anything not allowed), then authorization, and only
 * then a connection inside.
 */
export function coreProxyHandler(deps: CoreProxyDeps): TunnelHandler {
  const edges = new Map<string, EdgeIdentity>();
  const routes = new RouteCache();
  const log = deps.log;

  return async (req: TunnelRequest): Promise<TunnelAnswer> => {
    if (req.edge) edges.set(req.edge.node, req.edge);
    const where = { client: req.clientAddress, method: req.method, target: req.target.slice(0, 200) };
    let route: ReturnType<typeof routes.parse>;
    try {
      route = routes.parse(req.target, deps.isDomain);
    } catch (err) {
      if (!(err instanceof RouteError)) throw err;
      log.info({ ...where, status: err.status, code: err.code, reason: err.message }, 'http request refused');
      return refuse(err.status, err.message, err.status === 400 ? 'not-allowed' : undefined);
    }
    if (route.kind === 'edge-sso') {
      if (req.method !== 'GET') return refuse(405, 'get_edge_sso takes GET', undefined, { allow: 'GET' });
      return {
        status: 200,
        headers: { 'content-type': 'application/xml' },
        body: `<?xml version="1.0" encoding="UTF-8"?><getEdgeSsoResponse version="1.0"><sso>${deps.ssoEnabled}</sso></getEdgeSsoResponse>`,
      };
    }
    if (route.kind === 'service') {
      const verdict = deps.allowList.check({
        method: req.method,
        scheme: route.scheme,
        host: route.host,
        port: route.port,
        path: route.path,
      });
      if (!verdict.allowed) {
        log.warn({ ...where, reason: verdict.reason }, 'http request refused by the allow list');
        return refuse(403, verdict.reason, 'not-allowed');
      }
    } else if (req.method !== 'GET') return refuse(405, 'get_edge_config takes GET', undefined, { allow: 'GET' });
    else if ((deps.maintenance() || req.edgeMaintenance) && !(await deps.authorizer.sessionUser(req.headers))) {
      // A new sign-in; clients already signed in keep their X-Auth session and carry on.
      log.info({ ...where }, 'sign-in refused: maintenance mode');
      return refuse(
        503,
        `${deps.maintenance() ? deps.coreNode : 'the edge'} is in maintenance mode: new sign-ins are refused; try another node or retry later`,
        undefined,
        { 'retry-after': '60' },
      );
    }

    if (route.kind === 'edge-config' && deps.ready) await deps.ready();
    const auth = await deps.authorizer.authorize(req.headers, { issueSession: route.kind === 'edge-config' });
    if (!auth.ok) {
      log.warn({ ...where, status: auth.status, reason: auth.reason }, 'http request not authorized');
      const verdict =
        auth.status === 401 && !auth.staleSession && !auth.noCredentials
          ? 'auth-failed'
          : auth.status === 429
            ? 'rate-limited'
            : undefined;
      return refuse(
        auth.status,
        auth.reason,
        verdict,
        auth.status === 401 ? { 'www-authenticate': 'Basic realm="mra-edge"' } : {},
      );
    }

    if (route.kind === 'edge-config') {
      const uds = await deps.callControl.homeUdsServer(auth.user);
      const edgeList = [...edges.values()];
      const xml = edgeConfigXml({
        edges: edgeList,
        routes: edgeList.slice(0, 1).map((e) => `<sip:${deps.coreNode}@${e.address}:${e.sipTlsPort};transport=tls;lr>`),
        services: deps.services(),
        ...(uds ? { userUds: { address: uds.address, port: uds.httpsPort } } : {}),
      });
      const headers: Record<string, string | string[]> = {
        'content-type': 'application/xml',
        'cache-control': 'no-store',
      };
      if (auth.session) headers['set-cookie'] = `X-Auth=${auth.session}; Path=/; Secure; HttpOnly; SameSite=Strict`;
      log.info({ ...where, user: auth.user, via: auth.via }, 'edge configuration served');
      return { status: 200, headers, body: xml };
    }
    if (route.kind !== 'service') return refuse(404, 'unknown edge service');
    // A session or token speaks for one user: it may read that user's UDS record, not a colleague's.
    const named = /^\/cucm-uds\/user\/([^/]+)/.exec(route.path)?.[1];
    if (named !== undefined && decodeURIComponent(named).toLowerCase() !== auth.user.toLowerCase()) {
      log.warn({ ...where, user: auth.user }, "http request refused: another user's record");
      return refuse(403, `signed in as ${auth.user}: the record of another user is not available`);
    }
    // req.body is made on first use: a GET or HEAD has none to pass.
    const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : req.body;
    return deps.upstreams.forward(
      req.method,
      { scheme: route.scheme, host: route.host, port: route.port, pathAndQuery: route.path + route.search },
      req.headers,
      body,
    );
  };
}
