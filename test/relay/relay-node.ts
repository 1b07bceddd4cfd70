// A relay node for tests: two interfaces on loopback (internal 127.0.0.1, external 127.0.0.2), its own media range,
// ng on a free UDP port, and an ng client on it.
import { buildConfig, type RelayConfig, type RelayConfigInput } from '../../src/config/index.js';
import { silentLogger } from '../../src/log/index.js';
import { startRelay } from '../../src/node/index.js';
import { NgClient } from '../../bench/media/ng-client.js';
import { mediaRange } from '../support/media-range.js';

export const INTERNAL = '127.0.0.1';
export const EXTERNAL = '127.0.0.2';

export async function startRelayNode(extra: Partial<RelayConfigInput> = {}) {
  const input: RelayConfigInput = {
    role: 'relay',
    name: 'relay1',
    admin: { port: 0 },
    media: { ...mediaRange(), timeout_s: 60 },
    interfaces: [
      { name: 'internal', address: INTERNAL },
      { name: 'external', address: EXTERNAL },
    ],
    ...extra,
    ng: { udp: { port: 0 }, delete_delay_s: 0, ...extra.ng },
  };
  const cfg = buildConfig(input, 'test relay') as RelayConfig;
  const node = await startRelay(cfg, silentLogger());
  const ng = new NgClient(node.relay.ports.udp);
  return {
    node,
    ng,
    cfg,
    status: () => (node.status() as { relay: Record<string, unknown> }).relay,
    async close() {
      ng.close();
      await node.close();
    },
  };
}

/** An SDP body from a party at 127.0.0.1:`port`, with extra lines in its audio section. */
export function partySdp(
  port: number,
  opts: { proto?: string; extra?: string[]; address?: string; version?: number } = {},
): string {
  const a = opts.address ?? '127.0.0.1';
  return [
    'v=0',
    `o=- 1000 ${opts.version ?? 1} IN IP4 ${a}`,
    's=-',
    `c=IN IP4 ${a}`,
    't=0 0',
    `m=audio ${port} ${opts.proto ?? 'RTP/AVP'} 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    ...(opts.extra ?? []),
    'a=sendrecv',
    '',
  ].join('\r\n');
}

export const audioPort = (sdp: unknown): number => Number(/^m=audio (\d+) /m.exec(String(sdp))?.[1]);
export const connection = (sdp: unknown): string | undefined => /^c=IN IP4 (\S+)/m.exec(String(sdp))?.[1];
/** The a=crypto lines: [tag, suite, key||salt]. */
export function cryptos(sdp: unknown): Array<{ tag: number; suite: string; key: Buffer }> {
  return [...String(sdp).matchAll(/^a=crypto:(\d+) (\S+) inline:([A-Za-z0-9+/=]+)/gm)].map((m) => ({
    tag: Number(m[1]),
    suite: m[2]!,
    key: Buffer.from(m[3]!, 'base64'),
  }));
}
