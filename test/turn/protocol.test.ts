// The TURN server against the RFCs and against coturn: the same client scenarios (test/turn/scenarios.ts) run
// against both, each transcript is checked against what RFC 8656 says, and the two must be the same. After each,
// ours holds no allocation, permission, channel or relay port, and the media engine's pool is back where it was.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { coturnMissing } from '../support/coturn.js';
import { waitFor } from '../support/log-capture.js';
import { basics, expectedBasics, expiry, malformed, quotas, staleNonce, type Transcript } from './scenarios.js';
import { startCoturn, startOurs, type Ours, type Subject, type TurnTestConfig } from './subjects.js';

const missing = coturnMissing();

/**
 * What coturn 4.6.1 answers otherwise, and why ours does not follow it: coturn relays over TCP when a TCP client
 * asks (RFC 6062, which we do not offer: 442, RFC 8656 §7.2), refuses UDP-over-UDP's alternative with 400 rather
 * than 442, and answers a CreatePermission without an allocation 400 where RFC 8656 §9.2 says 437.
 */
const COTURN_DIFFERS = {
  udp: { tcpTransport: 400, permissionWithoutAllocation: [400] },
  tcp: { tcpTransport: 0, permissionWithoutAllocation: [400] },
} as const;
const DENIED = '127.0.0.99';

/** Runs `scenario` against ours then coturn (started with `cfg`), checks ours let go of everything. */
async function both(
  cfg: TurnTestConfig,
  scenario: (s: Subject) => Promise<Transcript>,
): Promise<{ ours: Transcript; coturn: Transcript }> {
  const ours = await startOurs(cfg);
  let oursT: Transcript;
  try {
    oursT = await scenario(ours);
    await assertNothingHeld(ours);
  } finally {
    await ours.close();
  }
  const reference = await startCoturn(cfg);
  try {
    return { ours: oursT, coturn: await scenario(reference) };
  } finally {
    await reference.close();
  }
}

async function assertNothingHeld(ours: Ours): Promise<void> {
  // A deleted allocation's socket closes at the end of the worker's turn: wait for it, then require all of it.
  await waitFor(
    'the TURN server to let go of everything',
    () => ours.held().allocations === 0 && ours.held().portPairs === 0,
    3000,
  );
  assert.deepEqual(ours.held(), { allocations: 0, permissions: 0, channels: 0, relayPorts: 0, portPairs: 0 });
}

describe('TURN protocol, ours against coturn', { skip: missing }, () => {
  after(() => undefined);

  for (const transport of ['udp', 'tcp'] as const) {
    it(`a client's whole life and its mistakes over ${transport.toUpperCase()}`, async () => {
      const { ours, coturn } = await both({ deniedPeers: [DENIED] }, (s) => basics(s.endpoint, transport, DENIED));
      assert.deepEqual(ours, expectedBasics(transport));
      // Where coturn departs from RFC 8656 the transcripts differ, and only there.
      assert.deepEqual(
        { ...ours, ...COTURN_DIFFERS[transport] },
        coturn,
        'coturn answered the same scenario differently',
      );
    });
  }

  it('malformed STUN and ChannelData are dropped without an answer, and the server goes on', async () => {
    const { ours, coturn } = await both({}, (s) => malformed(s.endpoint));
    assert.deepEqual(ours, {
      empty: 'dropped',
      garbage: 'dropped',
      short: 'dropped',
      badLength: 'dropped',
      badCookie: 'dropped',
      badAttribute: 'answered',
      badFingerprint: 'dropped',
      channelDataNoAllocation: 'dropped',
      channelDataShort: 'dropped',
      bindingAfter: 'success',
    });
    assert.deepEqual(ours, coturn);
  });

  it('quotas: 486 Allocation Quota Reached per user and in all', async () => {
    const { ours, coturn } = await both({ userQuota: 2, totalQuota: 4 }, (s) => quotas(s.endpoint));
    assert.deepEqual(ours, {
      alice: [0, 0, 486],
      bob: [0, 0],
      carol: [486],
      aliceRenewed: 486,
      deleteOne: 0,
      carolAfterDelete: 0,
    });
    assert.deepEqual(ours, coturn);
  });

  it('a stale nonce is answered 438 with a new one', async () => {
    const { ours, coturn } = await both({ nonceLifetimeS: 2 }, (s) => staleNonce(s.endpoint, 3000));
    assert.deepEqual(ours, { allocate: [401, 0], refreshAfterNonceExpired: [438, 0], newNonce: true, delete: [0] });
    assert.deepEqual(ours, coturn);
  });

  it('an allocation nobody refreshes expires, and its port goes back', async () => {
    const { ours, coturn } = await both({ maxLifetimeS: 2 }, (s) => expiry(s.endpoint, 2));
    assert.deepEqual(ours, {
      allocate: [401, 0],
      lifetime: 2,
      permission: [0],
      refreshAfterExpiry: 437,
      allocateAgain: [0],
      delete: [0],
    });
    assert.deepEqual(ours, coturn);
  });
});
