import type { IncomingMessage, ServerResponse } from 'node:http';
import { LAB_USERS, esc } from './lab-users.js';
import { sendText, sendXml } from './lab-http.js';

/**
 * The lab's TFTP HTTP service (6970): device configuration files (`<device>.cnf.xml`), `global-settings.xml`
 * and `jabber-config.xml`, as a Jabber client downloads them after UDS.
 */
export function labTftpHandler(opts: {
  callControlHost: string;
  domain: string;
}): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return sendText(res, 405, 'method not allowed\n', { allow: 'GET' });
    const path = new URL(req.url ?? '/', 'http://lab').pathname;
    if (path === '/jabber-config.xml') {
      return sendXml(
        res,
        200,
        `<config version="1.0"><Client><PrtLogServerUrl/></Client><Policies><EnableTelephony>true</EnableTelephony><EnableVoicemail>true</EnableVoicemail></Policies><Presence><PresenceServerAddress>${esc(opts.callControlHost)}</PresenceServerAddress></Presence></config>`,
      );
    }
    if (path === '/global-settings.xml')
      return sendXml(
        res,
        200,
        `<globalSettings><domain>${esc(opts.domain)}</domain><sipPort>5060</sipPort></globalSettings>`,
      );
    const m = /^\/([A-Za-z0-9-]+)\.cnf\.xml$/.exec(path);
    const user = m && LAB_USERS.find((u) => u.device === m[1]!.toUpperCase());
    if (!user) return sendText(res, 404, `lab tftp: ${path} not found\n`);
    sendXml(
      res,
      200,
      `<device><fullConfig>true</fullConfig><deviceProtocol>SIP</deviceProtocol><name>${user.device}</name>` +
        `<devicePool><callManagerGroup><members><member priority="0"><callManager><name>${esc(opts.callControlHost)}</name>` +
        `<ports><sipPort>5060</sipPort><securedSipPort>5061</securedSipPort></ports><processNodeName>${esc(opts.callControlHost)}</processNodeName></callManager></member></members></callManagerGroup></devicePool>` +
        `<sipProfile><sipLines><line button="1"><featureLabel>${user.directoryNumber}</featureLabel><name>${user.directoryNumber}</name>` +
        `<authName>${user.id}</authName><contact>${user.directoryNumber.replace('+', '')}</contact></line></sipLines></sipProfile>` +
        `<transportLayerProtocol>4</transportLayerProtocol></device>`,
    );
  };
}
