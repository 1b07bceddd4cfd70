// The relay against Debian's rtpengine: the same ng command sequences, in the form Kamailio's rtpengine module sends
// them (received-from, supports load limit, sip-message-type, its flags), go to both, and the SDP each returns is
// compared field by field: m= lines (media, port zero or not, profile, formats), connection and o= addresses,
// crypto suites offered (rtpengine's list less the suites this engine does not run: AES-192, F8, NULL), directions,
// ICE and rtcp-mux. Ports and keys differ by nature. Then RTP through both: query's figures match what was sent.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Peer, rtp } from '../media/helpers.js';
import { mediaRange } from '../support/media-range.js';
import type { NgClient } from '../../bench/media/ng-client.js';
import { EXTERNAL, INTERNAL, audioPort, cryptos, startRelayNode } from './relay-node.js';
import { rtpengineMissing, startRtpengine, type Rtpengine } from './rtpengine.js';

const missing = rtpengineMissing();
/** Suites rtpengine offers that the engine does not run: left out by design (docs/relay.md). */
const NOT_OURS = /^(AES_192_CM|F8_128|NULL_)/;

interface Fields {
  origin: string | undefined;
  media: Array<{
    media: string;
    off: boolean;
    proto: string;
    formats: string;
    address: string | undefined;
    direction: string;
    crypto: string[];
    ice: boolean;
    rtcpMux: boolean;
  }>;
}

/** What an SDP says, field by field, as the comparison reads it. */
function fields(sdp: string): Fields {
  const [session, ...sections] = sdp.split(/\r\n(?=m=)/);
  const attr = (text: string, re: RegExp) => re.exec(text)?.[1];
  const sessionC = attr(session!, /^c=IN IP4 (\S+)/m);
  const sessionDir = attr(session!, /^a=(sendrecv|sendonly|recvonly|inactive)\r?$/m);
  return {
    origin: attr(session!, /^o=\S+ \S+ \S+ IN IP4 (\S+)/m),
    media: sections.map((m) => {
      const [, media, port, proto, formats] = /^m=(\S+) (\d+) (\S+) (.*)$/m.exec(m)!;
      return {
        media: media!,
        off: port === '0',
        proto: proto!,
        formats: formats!.trim(),
        address: port === '0' ? undefined : (attr(m, /^c=IN IP4 (\S+)/m) ?? sessionC),
        direction:
          port === '0' ? '-' : (attr(m, /^a=(sendrecv|sendonly|recvonly|inactive)\r?$/m) ?? sessionDir ?? 'sendrecv'),
        crypto: cryptos(m).map((c) => c.suite),
        ice: /^a=(ice-ufrag|candidate)/m.test(m) || /^a=ice-ufrag/m.test(session!),
        rtcpMux: /^a=rtcp-mux/m.test(m),
      };
    }),
  };
}

function sdp(port: number, o: { proto?: string; media?: string[]; address?: string; version?: number } = {}): string {
  const address = o.address ?? '192.0.2.10';
  return [
    'v=0',
    `o=- 4242 ${o.version ?? 1} IN IP4 ${address}`,
    's=call',
    `c=IN IP4 ${address}`,
    't=0 0',
    ...(o.media ?? [
      `m=audio ${port} ${o.proto ?? 'RTP/AVP'} 0 8 101`,
      'a=rtpmap:101 telephone-event/8000',
      'a=sendrecv',
    ]),
    '',
  ].join('\r\n');
}
const ICE_LINES = [
  'a=ice-ufrag:Abc1',
  'a=ice-pwd:abcdefghijklmnopqrstuvwx',
  'a=candidate:1 1 UDP 2130706431 192.0.2.10 6000 typ host',
  'a=candidate:1 2 UDP 2130706430 192.0.2.10 6001 typ host',
];

/** One step: the dictionary as Kamailio sends it; an answer's SDP may read the relay's offer (for crypto tags). */
interface Step {
  command: 'offer' | 'answer';
  tags: [string, string?];
  sdp: string | ((offered: string) => string);
  flags?: Record<string, unknown>;
}

function dict(step: Step, callId: string, offered: string): Record<string, never> {
  return {
    command: step.command,
    'call-id': callId,
    'from-tag': step.tags[0],
    ...(step.tags[1] ? { 'to-tag': step.tags[1] } : {}),
    sdp: typeof step.sdp === 'string' ? step.sdp : step.sdp(offered),
    'received-from': ['IP4', '192.0.2.10'],
    supports: ['load limit'],
    'sip-message-type': step.command === 'offer' ? 'sip request' : 'sip response',
    ...step.flags,
  } as never;
}

/** A callee's SDES answer: the suite it picks, under the tag this relay offered it with. */
const savpAnswer = (port: number, suite: string) => (offered: string) => {
  const c = cryptos(offered).find((x) => x.suite === suite)!;
  const len = suite.includes('GCM') ? (suite.includes('256') ? 44 : 28) : suite.includes('256') ? 46 : 30;
  return sdp(port, {
    proto: 'RTP/SAVP',
    address: '198.51.100.20',
    media: [
      `m=audio ${port} RTP/SAVP 0`,
      `a=crypto:${c.tag} ${suite} inline:${randomBytes(len).toString('base64')}`,
      'a=sendrecv',
    ],
  });
};
const KAMAILIO = { replace: ['origin', 'session-connection'], flags: ['trust-address'] };

const SEQUENCES: Array<{ name: string; steps: Step[] }> = [
  {
    name: 'plain call, replace-origin replace-session-connection trust-address, direction internal → external',
    steps: [
      {
        command: 'offer',
        tags: ['caller'],
        sdp: sdp(6000),
        flags: { ...KAMAILIO, direction: ['internal', 'external'] },
      },
      { command: 'answer', tags: ['caller', 'callee'], sdp: sdp(7000, { address: '198.51.100.20' }), flags: KAMAILIO },
      // Hold (RFC 2543 c=0.0.0.0 and sendonly), then resume, from the caller.
      {
        command: 'offer',
        tags: ['caller', 'callee'],
        sdp: sdp(6000, { address: '0.0.0.0', version: 2, media: ['m=audio 6000 RTP/AVP 0 8', 'a=sendonly'] }),
        flags: KAMAILIO,
      },
      {
        command: 'answer',
        tags: ['caller', 'callee'],
        sdp: sdp(7000, { address: '198.51.100.20', version: 2, media: ['m=audio 7000 RTP/AVP 0 8', 'a=recvonly'] }),
        flags: KAMAILIO,
      },
      {
        command: 'offer',
        tags: ['callee', 'caller'],
        sdp: sdp(7000, { address: '198.51.100.20', version: 3, media: ['m=audio 7000 RTP/AVP 0 8', 'a=inactive'] }),
        flags: KAMAILIO,
      },
    ],
  },
  {
    name: 'RTP/AVP → RTP/SAVP (SDES, DTLS=off), callee picks AES_CM_128_HMAC_SHA1_80',
    steps: [
      {
        command: 'offer',
        tags: ['c2a'],
        sdp: sdp(6000),
        flags: { ...KAMAILIO, 'transport-protocol': 'RTP/SAVP', DTLS: 'off', ICE: 'remove' },
      },
      {
        command: 'answer',
        tags: ['c2a', 'c2b'],
        sdp: savpAnswer(7000, 'AES_CM_128_HMAC_SHA1_80'),
        flags: { ...KAMAILIO, ICE: 'remove' },
      },
    ],
  },
  {
    name: 'RTP/AVP → RTP/SAVP, SDES-no- and the callee picks AEAD_AES_128_GCM',
    steps: [
      {
        command: 'offer',
        tags: ['g1'],
        sdp: sdp(6000),
        flags: {
          ...KAMAILIO,
          'transport-protocol': 'RTP/SAVP',
          DTLS: 'off',
          SDES: ['no-AES_256_CM_HMAC_SHA1_32', 'no-AEAD_AES_256_GCM'],
        },
      },
      { command: 'answer', tags: ['g1', 'g2'], sdp: savpAnswer(7000, 'AEAD_AES_128_GCM'), flags: KAMAILIO },
    ],
  },
  {
    name: 'RTP/SAVP → RTP/AVP: the SRTP caller is answered with its first suite',
    steps: [
      {
        command: 'offer',
        tags: ['s1'],
        sdp: sdp(6000, {
          proto: 'RTP/SAVP',
          media: [
            'm=audio 6000 RTP/SAVP 0 8',
            `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${randomBytes(30).toString('base64')}`,
            `a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${randomBytes(30).toString('base64')}`,
            'a=sendrecv',
          ],
        }),
        flags: { ...KAMAILIO, 'transport-protocol': 'RTP/AVP' },
      },
      {
        command: 'answer',
        tags: ['s1', 's2'],
        sdp: sdp(7000, { address: '198.51.100.20', media: ['m=audio 7000 RTP/AVP 8', 'a=sendrecv'] }),
        flags: KAMAILIO,
      },
    ],
  },
  {
    name: 'ICE=remove on an ICE offer with rtcp-mux (rtcp-mux-demux), a video line and a disabled one',
    steps: [
      {
        command: 'offer',
        tags: ['i1'],
        sdp: sdp(6000, {
          media: [
            'm=audio 6000 RTP/AVP 0',
            ...ICE_LINES,
            'a=rtcp-mux',
            'a=sendrecv',
            'm=video 6010 RTP/AVP 96',
            'a=rtpmap:96 H264/90000',
            'a=sendrecv',
            'm=video 0 RTP/AVP 97',
          ],
        }),
        flags: { ...KAMAILIO, ICE: 'remove', 'rtcp-mux': ['demux'] },
      },
      {
        command: 'answer',
        tags: ['i1', 'i2'],
        sdp: sdp(7000, {
          address: '198.51.100.20',
          media: [
            'm=audio 7000 RTP/AVP 0',
            'a=sendrecv',
            'm=video 7010 RTP/AVP 96',
            'a=sendrecv',
            'm=video 0 RTP/AVP 97',
          ],
        }),
        flags: { ...KAMAILIO, ICE: 'remove', 'rtcp-mux': ['demux'] },
      },
    ],
  },
  {
    name: 'rtcp-mux: offered along by default, refused back when the callee does not take it; rtcp-mux-offer',
    steps: [
      {
        command: 'offer',
        tags: ['m1'],
        sdp: sdp(6000, { media: ['m=audio 6000 RTP/AVP 0', 'a=rtcp-mux'] }),
        flags: KAMAILIO,
      },
      {
        command: 'answer',
        tags: ['m1', 'm2'],
        sdp: sdp(7000, { address: '198.51.100.20', media: ['m=audio 7000 RTP/AVP 0'] }),
        flags: KAMAILIO,
      },
      {
        command: 'offer',
        tags: ['m2', 'm1'],
        sdp: sdp(7000, { address: '198.51.100.20', version: 2, media: ['m=audio 7000 RTP/AVP 0'] }),
        flags: { ...KAMAILIO, 'rtcp-mux': ['offer'] },
      },
      {
        command: 'answer',
        tags: ['m2', 'm1'],
        sdp: sdp(6000, { version: 2, media: ['m=audio 6000 RTP/AVP 0', 'a=rtcp-mux'] }),
        flags: { ...KAMAILIO, 'rtcp-mux': ['offer'] },
      },
    ],
  },
];

describe('differential: the relay and rtpengine answer the same ng sequences alike', { skip: missing ?? false }, () => {
  let ours: Awaited<ReturnType<typeof startRelayNode>>;
  let ref: Rtpengine;
  const interfaces = [
    { name: 'internal', address: INTERNAL },
    { name: 'external', address: EXTERNAL },
  ];
  before(async () => {
    ours = await startRelayNode();
    const range = mediaRange();
    ref = await startRtpengine({ interfaces, portMin: range.port_min, portMax: range.port_max });
  });
  after(async () => {
    await ours?.close();
    await ref?.close();
  });

  for (const seq of SEQUENCES)
    it(seq.name, async () => {
      const id = `diff-${process.pid}-${seq.name.length}-${Math.random().toString(36).slice(2)}`;
      const offered = new Map<NgClient, string>();
      for (const [i, step] of seq.steps.entries()) {
        const out = await Promise.all(
          [ours.ng, ref.ng].map(async (ng) => {
            const reply = await ng.command(dict(step, id, offered.get(ng) ?? ''));
            if (step.command === 'offer') offered.set(ng, String(reply.sdp));
            return fields(String(reply.sdp));
          }),
        );
        const [mine, theirs] = out as [Fields, Fields];
        const expected = {
          ...theirs,
          media: theirs.media.map((m) => ({ ...m, crypto: m.crypto.filter((c) => !NOT_OURS.test(c)) })),
        };
        assert.deepEqual(mine, expected, `step ${i + 1} (${step.command} from ${step.tags[0]})`);
      }
      await Promise.all([ours.ng, ref.ng].map((ng) => ng.command({ command: 'delete', 'call-id': id })));
    });

  it("query's figures agree with the packets sent, on both", async () => {
    for (const [ng, name] of [
      [ours.ng, 'ours'],
      [ref.ng, 'rtpengine'],
    ] as const) {
      const a = await Peer.open();
      const b = await Peer.open();
      const id = `q-${name}-${process.pid}`;
      try {
        const offer = await ng.command({
          command: 'offer',
          'call-id': id,
          'from-tag': 'qa',
          sdp: sdp(a.port, { address: '127.0.0.1' }),
          ...KAMAILIO,
          direction: ['internal', 'external'],
        } as never);
        const answer = await ng.command({
          command: 'answer',
          'call-id': id,
          'from-tag': 'qa',
          'to-tag': 'qb',
          sdp: sdp(b.port, { address: '127.0.0.1' }),
          ...KAMAILIO,
        } as never);
        for (let i = 0; i < 25; i++) a.socket.send(rtp(i, 0x1a), audioPort(answer.sdp), INTERNAL);
        for (let i = 0; i < 17; i++) b.socket.send(rtp(i, 0x1b), audioPort(offer.sdp), EXTERNAL);
        await b.waitFor(25);
        await a.waitFor(17);
        const q = await ng.command({ command: 'query', 'call-id': id });
        const tags = q.tags as Record<
          string,
          { medias: Array<{ streams: Array<{ stats: { packets: number; bytes: number } }> }> }
        >;
        assert.equal(tags.qa!.medias[0]!.streams[0]!.stats.packets, 25, `${name}: packets from the caller`);
        assert.equal(tags.qb!.medias[0]!.streams[0]!.stats.packets, 17, `${name}: packets from the callee`);
        assert.equal(tags.qa!.medias[0]!.streams[0]!.stats.bytes, 25 * 172, `${name}: bytes from the caller`);
        assert.equal((q.totals as { RTP: { packets: number } }).RTP.packets, 42, `${name}: totals`);
        await ng.command({ command: 'delete', 'call-id': id });
      } finally {
        a.close();
        b.close();
      }
    }
  });
});
