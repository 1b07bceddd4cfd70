// Requests the transaction layer builds itself: the ACK for a non-2xx final response (§17.1.1.3) and a
// CANCEL (§9.1). Both reuse the INVITE's top Via so they land in the same server-side transaction.
import { splitTopLevel, trimWs } from '../../../src/sip/message/grammar.js';
import { SipRequest, fields, type SipResponse } from '../../../src/sip/message/message.js';

function routes(invite: SipRequest): Array<[string, string]> {
  return invite.headers.filter((h) => h.key === 'route').map((h) => ['Route', h.value]);
}

function topViaText(invite: SipRequest): string {
  return trimWs(splitTopLevel(invite.headers.find((h) => h.key === 'via')!.value, ',', 'Via')[0]!);
}

export function createNon2xxAck(invite: SipRequest, response: SipResponse): SipRequest {
  return new SipRequest(
    'ACK',
    invite.uriText,
    fields([
      ['Via', topViaText(invite)],
      ...routes(invite),
      ['Max-Forwards', '70'],
      ['From', invite.header('from')!],
      ['To', response.header('to')!],
      ['Call-ID', invite.callId()],
      ['CSeq', `${invite.cseq().seq} ACK`],
      ['Content-Length', '0'],
    ]),
    Buffer.alloc(0),
  );
}

export function createCancel(invite: SipRequest): SipRequest {
  return new SipRequest(
    'CANCEL',
    invite.uriText,
    fields([
      ['Via', topViaText(invite)],
      ...routes(invite),
      ['Max-Forwards', '70'],
      ['From', invite.header('from')!],
      ['To', invite.header('to')!],
      ['Call-ID', invite.callId()],
      ['CSeq', `${invite.cseq().seq} CANCEL`],
      ['Content-Length', '0'],
    ]),
    Buffer.alloc(0),
  );
}
