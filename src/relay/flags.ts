// What an offer's or answer's dictionary asks of the SDP, as the policy reads it. Every key and flag rtpengine
// documents falls in one of three groups: done (here or in the policy), refused with an error that names it (a
// feature this relay does not have: transcoding, DTLS-SRTP, ICE agents, recording...), or ignored with a `warning`
// in the reply. Nothing is silently half-done. docs/relay.md has the table.
import { isIP } from 'node:net';
import { canonical, NgError, type NgRequest } from './request.js';

export type RtcpMuxFlag = 'offer' | 'require' | 'demux' | 'accept' | 'reject';
export const TRANSPORTS = ['RTP/AVP', 'RTP/AVPF', 'RTP/SAVP', 'RTP/SAVPF'] as const;

export interface SdesOptions {
  off: boolean;
  /** SDES-only-<suite>: offer these suites and no others. */
  only: string[] | null;
  /** SDES-no-<suite>. */
  no: Set<string>;
  /** SDES-nonew: offer only suites the offerer offered. */
  nonew: boolean;
  /** Keep base64 padding in inline: keys (SDES-pad, pad-crypto). */
  pad: boolean;
}

export interface MediaOptions {
  replaceOrigin: boolean;
  /** replace zero-address: a c=0.0.0.0 hold is written with the relay's address. */
  replaceZeroAddress: boolean;
  /** SIP-source-address: the remote is the SIP message's source (received-from), not the SDP's address. */
  sipSource: boolean;
  mediaAddress?: string;
  receivedFrom?: string;
  /** The offer had ICE and the relay strips it (ICE=remove, or the default: this relay is no ICE agent). */
  iceRemoveAsked: boolean;
  transport?: (typeof TRANSPORTS)[number];
  /** transport-protocol=accept in an answer: the offerer gets the answerer's profile. */
  transportAccept: boolean;
  rtcpMux: Set<RtcpMuxFlag>;
  sdes: SdesOptions;
  /** Interface names: [the message sender's, the other side's]. */
  direction: string[];
  label?: string;
  warnings: string[];
}

/** Keys read by the commands themselves or harmless to a relay that records nothing. */
const HANDLED_KEYS = new Set([
  'command',
  'call-id',
  'from-tag',
  'to-tag',
  'via-branch',
  'sdp',
  'flags',
  'replace',
  'ice',
  'transport-protocol',
  'rtcp-mux',
  'sdes',
  'direction',
  'from-interface',
  'to-interface',
  'interface',
  'media-address',
  'received-from',
  'label',
  'from-label',
  'set-label',
  'sip-message-type',
  'sip-code',
  'supports',
  'delete-delay',
  'address-family',
  'dtls',
  'osrtp',
  'record-call',
  'metadata',
  'codec',
  'ice-lite',
  'xmlrpc-callback',
  'endpoint-learning',
  'to-label',
]);

/** Keys that ask for a feature this relay does not have: refused, so the proxy sees why. */
const REFUSED_KEYS: Record<string, string> = {
  't.38': 'T.38 gateway',
  ptime: 'repacketisation (ptime)',
  'ptime-reverse': 'repacketisation (ptime)',
  'media-echo': 'media echo',
  'rtpp-flags': 'flags parsed by the relay (rtpp-flags): let the module parse them',
  'drop-traffic': 'drop-traffic',
  template: 'signalling templates',
  'sdp-attr': 'SDP attribute manipulation',
  'sdp-media-remove': 'removing media types',
  'dtmf-security': 'DTMF security',
  'dtmf-delay': 'DTMF delay',
  'delay-buffer': 'the delay buffer',
  'audio-player': 'the audio player',
  'generate-rtcp': 'RTCP generation',
  bundle: 'BUNDLE',
  extmap: 'header extension manipulation',
};

/** Flags (the `flags` list) a relay without transcoding, recording, DTLS or an ICE agent cannot honour. */
const REFUSED_FLAGS: Record<string, string> = {
  asymmetric: 'asymmetric RTP (the relay learns each side from what it sends)',
  'always-transcode': 'transcoding',
  'force-transcoding': 'transcoding',
  'record-call': 'call recording',
  'loop-protect': 'loop protection',
  webrtc: 'WebRTC (DTLS-SRTP, ICE)',
  'generate-mid': 'a=mid generation',
  'trickle-ice': 'trickle ICE',
  'single-codec': 'codec stripping',
  'inject-dtmf': 'DTMF injection',
  'detect-dtmf': 'DTMF detection',
  'block-dtmf': 'DTMF blocking',
  'generate-rtcp': 'RTCP generation',
  'early-media': 'the audio player',
  'recording-announcement': 'call recording',
  'strip-extmap': 'header extension manipulation',
  'static-codecs': 'codec manipulation',
  'reuse-codecs': 'codec manipulation',
  'allow-transcoding': 'transcoding',
  'block-egress': 'media playback',
  'exclude-recording': 'call recording',
  'skip-recording-db': 'call recording',
};

/** Flags that describe what the relay does anyway, or only change what it does not do. */
const ACCEPTED_FLAGS = new Set([
  'trust-address',
  'symmetric',
  'strict-source',
  'media-handover',
  'port-latching',
  'no-port-latching',
  'original-sendrecv',
  'reject-ice',
  'full-rtcp-attribute',
  'no-rtcp-attribute',
  'fatal',
  'fast',
  'to-tag',
  'reset',
  'provisional',
  'new-branch',
  'debug',
  'debugging',
  'directional',
  'unidirectional',
  'recrypt',
  'no-tls-id',
  'sip-source-address',
  'pad-crypto',
  'all',
  'discard-recording',
]);

function sdesOptions(list: string[], warnings: string[]): SdesOptions {
  const out: SdesOptions = { off: false, only: null, no: new Set(), nonew: false, pad: false };
  for (const raw of list) {
    const f = raw.trim();
    const lower = f.toLowerCase();
    if (['off', 'no', 'disable'].includes(lower)) out.off = true;
    else if (lower.startsWith('no-')) out.no.add(f.slice(3).toUpperCase());
    else if (lower.startsWith('only-')) (out.only ??= []).push(f.slice(5).toUpperCase());
    else if (lower === 'nonew') out.nonew = true;
    else if (lower === 'pad') out.pad = true;
    else if (
      [
        'static',
        'prefer',
        'encrypted-srtp',
        'encrypted-srtcp',
        'authenticated-srtp',
        'encrypted_srtp',
        'encrypted_srtcp',
        'authenticated_srtp',
      ].includes(lower)
    )
      continue;
    else if (/^(unencrypted|unauthenticated)[-_]srt/.test(lower) || lower === 'lifetime')
      throw new NgError(`SDES-${f} is not supported: this relay offers no SDES session parameters`);
    else warnings.push(`SDES-${f} ignored`);
  }
  return out;
}

/** Reads the SDP options of an offer or answer; throws NgError for what the relay refuses. */
export function mediaOptions(req: NgRequest, op: 'offer' | 'answer'): MediaOptions {
  const warnings: string[] = [];
  const flags = req.list('flags').map((f) => [canonical(f), f] as const);
  const replace = new Set(req.list('replace').map(canonical));
  const rtcpMux = new Set<RtcpMuxFlag>();
  let sdes = req.list('sdes');
  const sdesFromFlags: string[] = [];
  const ignored: string[] = [];

  for (const [f, original] of flags) {
    if (f.startsWith('sdes-')) sdesFromFlags.push(original.slice(5));
    else if (f.startsWith('rtcp-mux-')) rtcpMux.add(f.slice(9) as RtcpMuxFlag);
    else if (f.startsWith('replace-')) replace.add(f.slice(8));
    else if (f.startsWith('codec-') || f.startsWith('transcode-'))
      throw new NgError(`flag "${original}" is not supported: this relay does not transcode or change codecs`);
    else if (f.startsWith('osrtp') && f !== 'osrtp-accept' && f !== 'osrtp-accept-rfc' && f !== 'osrtp-accept-legacy')
      throw new NgError(`flag "${original}" is not supported: no OSRTP offers`);
    else if (REFUSED_FLAGS[f]) throw new NgError(`flag "${original}" is not supported: ${REFUSED_FLAGS[f]}`);
    else if (!ACCEPTED_FLAGS.has(f) && !f.startsWith('osrtp') && !f.startsWith('endpoint-learning-'))
      ignored.push(original);
  }
  sdes = [...sdes, ...sdesFromFlags];
  if (flags.some(([f]) => f === 'pad-crypto')) sdes.push('pad');

  for (const key of req.keys()) {
    if (REFUSED_KEYS[key]) throw new NgError(`"${key}" is not supported: ${REFUSED_KEYS[key]}`);
    if (!HANDLED_KEYS.has(key)) ignored.push(key);
  }
  const codec = req.raw('codec');
  if (codec !== undefined && !(typeof codec === 'object' && !Buffer.isBuffer(codec) && Object.keys(codec).length === 0))
    throw new NgError('"codec" is not supported: this relay does not transcode or change codecs');
  const record = req.str('record-call');
  if (record !== undefined && !['no', 'off'].includes(record.toLowerCase()))
    throw new NgError('"record-call" is not supported: this relay does not record');
  const family = req.str('address-family');
  if (family !== undefined && family.toUpperCase() !== 'IP4')
    throw new NgError(`address family ${family} is not supported: IPv4 only`);
  const iceLite = req.str('ice-lite');
  if (iceLite !== undefined && iceLite.toLowerCase() !== 'off')
    throw new NgError('"ICE-lite" is not supported: this relay is no ICE agent');
  const dtls = req.str('dtls');
  if (dtls !== undefined && !['off', 'no', 'disable'].includes(dtls.toLowerCase()))
    warnings.push(`DTLS=${dtls} ignored: this relay keys SRTP with SDES only`);

  let iceRemoveAsked = flags.some(([f]) => f === 'reject-ice');
  for (const v of req.list('ice').map((s) => s.toLowerCase())) {
    if (v === 'remove') iceRemoveAsked = true;
    else if (v !== 'default')
      throw new NgError(
        `ICE=${v} is not supported: this relay is no ICE agent (it answers no connectivity checks); use ICE=remove`,
      );
  }

  for (const r of replace)
    if (
      ![
        'origin',
        'session-connection',
        'zero-address',
        'sdp-version',
        'username',
        'session-name',
        'origin-full',
        'force-increment-sdp-ver',
      ].includes(r)
    )
      ignored.push(`replace-${r}`);
    else if (['sdp-version', 'username', 'session-name', 'force-increment-sdp-ver'].includes(r))
      warnings.push(`replace ${r} ignored: the relay leaves the o= and s= fields but the address as they are`);

  for (const m of req.list('rtcp-mux').map(canonical)) rtcpMux.add(m as RtcpMuxFlag);
  for (const m of rtcpMux)
    if (!['offer', 'require', 'demux', 'accept', 'reject'].includes(m))
      throw new NgError(`rtcp-mux "${m}" is not one of offer, require, demux, accept, reject`);

  const transportText = req.str('transport-protocol');
  let transport: MediaOptions['transport'];
  let transportAccept = false;
  if (transportText !== undefined) {
    if (transportText === 'accept' && op === 'answer') transportAccept = true;
    else if ((TRANSPORTS as readonly string[]).includes(transportText))
      transport = transportText as MediaOptions['transport'];
    else if (/^UDP\/TLS\//.test(transportText))
      throw new NgError(`transport-protocol ${transportText} is not supported: no DTLS-SRTP, SDES only`);
    else throw new NgError(`transport-protocol ${transportText} is not one of ${TRANSPORTS.join(', ')}`);
  }

  const direction = req.list('direction');
  const from = req.str('from-interface') ?? req.str('interface');
  const to = req.str('to-interface');
  if (from !== undefined) direction[0] = from;
  if (to !== undefined) direction[1] = to;

  const mediaAddress = req.str('media-address');
  if (mediaAddress !== undefined && isIP(mediaAddress) !== 4)
    throw new NgError(`media address ${mediaAddress} is not an IPv4 address`);
  const rf = req.list('received-from');
  const receivedFrom = rf.length === 2 && isIP(rf[1]!) === 4 ? rf[1] : undefined;
  const sipSource = flags.some(([f]) => f === 'sip-source-address');
  if (sipSource && !receivedFrom && !mediaAddress)
    throw new NgError('SIP-source-address needs received-from (an IPv4 address)');
  if (ignored.length) warnings.push(`ignored: ${ignored.join(', ')}`);
  const label = req.str('label') ?? req.str('from-label') ?? req.str('set-label');

  return {
    replaceOrigin: replace.has('origin') || replace.has('origin-full'),
    replaceZeroAddress: replace.has('zero-address'),
    sipSource,
    ...(mediaAddress ? { mediaAddress } : {}),
    ...(receivedFrom ? { receivedFrom } : {}),
    iceRemoveAsked,
    ...(transport ? { transport } : {}),
    transportAccept,
    rtcpMux,
    sdes: sdesOptions(sdes, warnings),
    direction,
    ...(label !== undefined ? { label } : {}),
    warnings,
  };
}
