// The few lines of SDP the bench writes and reads when it drives rtpengine as both parties of each call.
export const SUITE = 'AES_CM_128_HMAC_SHA1_80';

export function audioSdp(opts: { port: number; srtp: boolean; key?: Buffer; cryptoTag?: number }): string {
  const lines = [
    'v=0',
    'o=- 1 1 IN IP4 127.0.0.1',
    's=bench',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${opts.port} ${opts.srtp ? 'RTP/SAVP' : 'RTP/AVP'} 0`,
    'a=rtpmap:0 PCMU/8000',
    'a=sendrecv',
  ];
  if (opts.srtp) {
    if (!opts.key) throw new TypeError('an SRTP SDP needs a key');
    lines.push(`a=crypto:${opts.cryptoTag ?? 1} ${SUITE} inline:${opts.key.toString('base64')}`);
  }
  return `${lines.join('\r\n')}\r\n`;
}

export function sdpAudioPort(sdp: string): number {
  const m = /^m=audio (\d+) /m.exec(sdp);
  if (!m) throw new Error(`no m=audio line in the SDP rtpengine returned:\n${sdp}`);
  return Number(m[1]);
}

/** The crypto line for our suite: its tag and key||salt (RFC 4568 inline). */
export function sdpCrypto(sdp: string): { tag: number; key: Buffer } {
  const m = new RegExp(`^a=crypto:(\\d+) ${SUITE} inline:([A-Za-z0-9+/=]+)`, 'm').exec(sdp);
  if (!m) throw new Error(`no ${SUITE} a=crypto line in the SDP rtpengine returned:\n${sdp}`);
  return { tag: Number(m[1]), key: Buffer.from(m[2]!, 'base64') };
}
