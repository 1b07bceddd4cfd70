import type { IncomingMessage, ServerResponse } from 'node:http';
import { basicUser, esc, findUser } from './lab-users.js';
import { sendText, sendXml } from './lab-http.js';

/** The lab's Unity Connection REST (`/vmrest/...` on 443): a mailbox and its messages for visual voicemail. */
export function labVoicemailHandler(): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'https://lab');
    if (!url.pathname.startsWith('/vmrest/')) return sendText(res, 404, 'lab voicemail: not found\n');
    // Visual voicemail always carries the user's own credentials to Unity Connection.
    const user = basicUser(req.headers.authorization) ?? findUser(url.searchParams.get('user') ?? '');
    if (!user)
      return sendText(res, 401, 'credentials required\n', { 'www-authenticate': 'Basic realm="Unity Connection"' });
    if (url.pathname === '/vmrest/mailbox' && req.method === 'GET') {
      return sendXml(
        res,
        200,
        `<Mailbox><DisplayName>${esc(user.firstName)} ${esc(user.lastName)}</DisplayName><Alias>${user.id}</Alias><IsPrimary>true</IsPrimary><MessageCount>1</MessageCount></Mailbox>`,
      );
    }
    if (url.pathname === '/vmrest/messages' && req.method === 'GET') {
      return sendXml(
        res,
        200,
        `<Messages total="1"><Message><MsgId>0:lab-1</MsgId><Subject>Welcome, ${esc(user.firstName)}</Subject><Read>false</Read><Duration>4200</Duration></Message></Messages>`,
      );
    }
    sendText(res, 404, `lab voicemail: ${req.method} ${url.pathname} not found\n`);
  };
}
