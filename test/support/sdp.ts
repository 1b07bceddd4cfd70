// SDP bodies for tests that place calls: an audio offer or answer at 127.0.0.1, plain or with an SDES key.
export const SRTP_SUITE = 'AES_CM_128_HMAC_SHA1_80';

/** One audio stream (PCMU + telephone-event) at 127.0.0.1:`port`; `key` adds a=crypto (give proto RTP/SAVP with it). */
export function audioSdp(port = 40000, opts: { proto?: string; key?: Buffer; extra?: string } = {}): string {
  return [
    'v=0',
    'o=- 7 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} ${opts.proto ?? 'RTP/AVP'} 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=ptime:20',
    'a=sendrecv',
    ...(opts.key ? [`a=crypto:1 ${SRTP_SUITE} inline:${opts.key.toString('base64')}`] : []),
    ...(opts.extra ? [opts.extra] : []),
    '',
  ].join('\r\n');
}

/** A client's offer: RTP/SAVP with a key (core refuses a client's offer without one). */
export const clientOffer = (port = 40000, key = Buffer.alloc(30, 0x5a)): string =>
  audioSdp(port, { proto: 'RTP/SAVP', key });
