// A call's figures in the shape of rtpengine's query reply (tags → medias → streams with their stats, and totals),
// read from the relays' counters: a side's stream counts what the relay received from that side. Beyond rtpengine's
// keys, each RTP stream carries the RTP loss its sequence numbers show (`lost` of `expected`, RFC 3550 A.3).
import type { LegStats } from '../media/index.js';
import type { NgInput } from './ng/bencode.js';
import { isSecure } from './sdes.js';
import type { Dialogue, NgCall, SideName } from './dialogue.js';

const seconds = (ms: number) => Math.floor(ms / 1000);
const errors = (l: LegStats) => Object.values(l.drops).reduce((a, b) => a + b, 0);

interface Totals {
  RTP: { packets: number; bytes: number; errors: number };
  RTCP: { packets: number; bytes: number; errors: number };
}

function endpoint(address: string, port: number) {
  return { family: 'IPv4', address, port };
}

function sideMedias(d: Dialogue, side: SideName, totals: Totals): NgInput[] {
  const out: NgInput[] = [];
  for (const stream of d.leg.streams) {
    const st = stream?.stats();
    if (!stream || !st) continue;
    const data = stream.toData();
    const leg = data.legs[side];
    const l = st[side];
    const rtp = { packets: l.packetsIn - l.rtcpIn, bytes: l.bytesIn - l.rtcpBytesIn, errors: errors(l) };
    const rtcp = { packets: l.rtcpIn, bytes: l.rtcpBytesIn, errors: 0 };
    totals.RTP.packets += rtp.packets;
    totals.RTP.bytes += rtp.bytes;
    totals.RTP.errors += rtp.errors;
    totals.RTCP.packets += rtcp.packets;
    totals.RTCP.bytes += rtcp.bytes;
    const signalled = leg.options.remote;
    const latched = leg.latched ? leg.latched.split(':') : undefined;
    const where = latched
      ? endpoint(latched[0]!, Number(latched[1]))
      : signalled
        ? endpoint(signalled.address, signalled.port)
        : undefined;
    const mux = leg.options.rtcpMux ?? false;
    const crypto = leg.recv?.suite;
    const proto = d.side(side).proto.get(stream.index) ?? 'RTP/AVP';
    const ports = stream.relay.ports[side];
    const packetStream = (kind: 'RTP' | 'RTCP', stats: NgInput) => ({
      'local port': kind === 'RTP' || mux ? ports.rtp : ports.rtcp,
      'local address': d.side(side).iface.address,
      family: 'IPv4',
      ...(where ? { endpoint: kind === 'RTP' || mux ? where : { ...where, port: where.port + 1 } } : {}),
      ...(signalled
        ? {
            'advertised endpoint': endpoint(
              signalled.address,
              kind === 'RTCP' && !mux ? (leg.options.remoteRtcp?.port ?? signalled.port + 1) : signalled.port,
            ),
          }
        : {}),
      ...(crypto ? { 'crypto suite': crypto } : {}),
      flags: [kind, ...(where ? ['filled'] : []), ...(leg.latched ? ['confirmed'] : [])],
      stats,
    });
    out.push({
      index: stream.index + 1,
      type: d.side(side).sdp?.streams[stream.index]?.media ?? 'audio',
      protocol: proto,
      flags: ['initialized', ...(mux ? ['rtcp-mux'] : []), ...(isSecure(proto) ? ['SDES'] : [])],
      streams: [packetStream('RTP', { ...rtp, lost: l.rtpLost, expected: l.rtpExpected }), packetStream('RTCP', rtcp)],
    });
  }
  return out;
}

/** The reply keys of `query` (and of `delete`) for `dialogues` of `call`. */
export function callFigures(call: NgCall, dialogues: readonly Dialogue[] = call.dialogues): Record<string, NgInput> {
  const totals: Totals = { RTP: { packets: 0, bytes: 0, errors: 0 }, RTCP: { packets: 0, bytes: 0, errors: 0 } };
  const tags: Record<string, NgInput> = {};
  for (const d of dialogues)
    for (const side of ['a', 'b'] as const) {
      const s = d.side(side);
      const tag = s.tags[0] ?? '';
      const peer = d.tag(side === 'a' ? 'b' : 'a');
      tags[tag] = {
        tag,
        created: seconds(s.created),
        ...(s.label !== undefined ? { label: s.label } : {}),
        ...(peer ? { 'in dialogue with': peer } : {}),
        medias: sideMedias(d, side, totals),
      };
    }
  return {
    created: seconds(call.created),
    'last signal': seconds(call.lastSignal),
    tags,
    totals: totals as unknown as NgInput,
  };
}
