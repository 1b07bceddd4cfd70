import type { IncomingMessage, ServerResponse } from 'node:http';
import { TokenKeys } from '../http/index.js';
import { type LAB_USERS, basicUser, esc, findUser } from './lab-users.js';
import { readBody, sendText, sendXml } from './lab-http.js';
import type { LabTokenIssuer } from './tokens.js';

export interface LabUdsOptions {
  /** This node's name as clients address it (what the edge-config's userUdsServer names). */
  host: string;
  httpsPort: () => number;
  issuer: LabTokenIssuer;
}

/**
 * The lab's Unified CM UDS (`/cucm-uds/...`), its OAuth endpoints, and IM&P's SOAP login (`EPASSoap`), on one
 * HTTPS port: enough for Jabber's sign-in sequence and for core's credential checks.
 */
export function labUdsHandler(opts: LabUdsOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const keys = new TokenKeys(async () => opts.issuer.jwks());
  const ready = keys.refresh();

  /** A present Authorization must be good; an absent one is the proxy's business (core authorized already). */
  const authorizationFails = async (req: IncomingMessage, id: string): Promise<boolean> => {
    const a = req.headers.authorization;
    if (!a) return false;
    if (/^bearer\s/i.test(a)) {
      const v = await keys.verify(a.slice(7).trim());
      return !v.ok || v.claims.sub.toLowerCase() !== id.toLowerCase();
    }
    return basicUser(a)?.id.toLowerCase() !== id.toLowerCase();
  };

  return (req, res) => {
    void ready.then(async () => {
      const url = new URL(req.url ?? '/', 'https://lab');
      const path = url.pathname;
      const base = `https://${opts.host}:${opts.httpsPort()}/cucm-uds`;
      if (opts.issuer.handle(req, res, path)) return;
      if (path === '/EPASSoap/service/v80') return epasLogin(req, res);
      if (req.method !== 'GET') return sendText(res, 405, 'method not allowed\n', { allow: 'GET' });
      if (path === '/cucm-uds/clusterUser') {
        const user = findUser(url.searchParams.get('username') ?? '');
        return sendXml(
          res,
          200,
          user
            ? `<getUserResult><user><homeCluster>${esc(opts.host)}</homeCluster><phoneCount>1</phoneCount></user><result found="true"/></getUserResult>`
            : '<getUserResult><result found="false"/></getUserResult>',
        );
      }
      if (path === '/cucm-uds/servers') {
        // A lab-only knob: lets a test stand in for a slow inside server without a server of its own.
        const delay = Math.min(Number(url.searchParams.get('labDelayMs') ?? 0) || 0, 30_000);
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        return sendXml(
          res,
          200,
          `<servers version="14.0.1" uri="${esc(base)}/servers"><server>${esc(opts.host)}</server></servers>`,
        );
      }
      const m = /^\/cucm-uds\/user\/([^/]+)(\/devices)?$/.exec(path);
      if (m) {
        const user = findUser(decodeURIComponent(m[1]!));
        if (!user) return sendXml(res, 404, '<error>user not found</error>');
        if (await authorizationFails(req, user.id))
          return sendText(res, 401, 'credentials not accepted\n', {
            'www-authenticate': 'Basic realm="Cisco Web Services Realm"',
          });
        if (m[2]) {
          return sendXml(
            res,
            200,
            `<devices version="14.0.1" uri="${esc(base)}/user/${user.id}/devices" start="0" requestedCount="64" returnedCount="1" totalCount="1"><device uri="${esc(base)}/device/${user.device}"><id>${user.device}</id><name>${user.device}</name><description>Jabber for ${esc(user.firstName)} ${esc(user.lastName)}</description><model>Cisco Unified Client Services Framework</model><type>phone</type><provisionTftp>${esc(opts.host)}</provisionTftp></device></devices>`,
          );
        }
        return sendXml(res, 200, userXml(user, base, opts.host));
      }
      sendText(res, 404, `lab uds: ${path} not found\n`);
    });
  };
}

function userXml(u: (typeof LAB_USERS)[number], base: string, host: string): string {
  return (
    `<user version="14.0.1" uri="${esc(base)}/user/${u.id}"><id>${u.id}</id><userName>${u.id}</userName>` +
    `<firstName>${esc(u.firstName)}</firstName><lastName>${esc(u.lastName)}</lastName><middleName/><nickName/>` +
    `<displayName>${esc(u.firstName)} ${esc(u.lastName)}</displayName><phoneNumber>${u.directoryNumber}</phoneNumber>` +
    `<homeNumber/><mobileNumber/><email>${u.id}@lab.example.com</email><directoryUri>${u.id}@lab.example.com</directoryUri>` +
    `<msUri/><department>Lab</department><manager/><title>Remote worker</title><pager/><homeCluster>${esc(host)}</homeCluster>` +
    `<selfServiceId>${u.directoryNumber.replace('+', '')}</selfServiceId><userLocale>English United States</userLocale>` +
    `<enableCalendarPresence>false</enableCalendarPresence><imAndPresenceEnabled>true</imAndPresenceEnabled>` +
    `<serviceProfile uri="${esc(base)}/user/${u.id}/serviceProfile"/><devices uri="${esc(base)}/user/${u.id}/devices"/>` +
    `<credentials uri="${esc(base)}/user/${u.id}/credentials"/><extensions uri="${esc(base)}/user/${u.id}/extensions"/></user>`
  );
}

/** IM&P's SOAP login: the user name and password in the body, a session key back. */
async function epasLogin(req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') return sendText(res, 405, 'method not allowed\n', { allow: 'POST' });
  const body = (await readBody(req, 65_536).catch(() => Buffer.alloc(0))).toString('utf8');
  const user = /<username>([^<]*)<\/username>/.exec(body)?.[1] ?? '';
  const password = /<password>([^<]*)<\/password>/.exec(body)?.[1] ?? '';
  const good = basicUser(`Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);
  const envelope = (inner: string) =>
    `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>${inner}</soapenv:Body></soapenv:Envelope>`;
  if (!good)
    return sendXml(
      res,
      500,
      envelope(
        '<soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>Invalid user name or password</faultstring></soapenv:Fault>',
      ),
    );
  sendXml(
    res,
    200,
    envelope(
      `<loginResponse xmlns="urn:cisco:epas:soap"><success><userid>${esc(good.id)}</userid><sessionkey>${Buffer.from(`${good.id}:${Date.now()}`).toString('base64url')}</sessionkey></success></loginResponse>`,
    ),
  );
}
