import { startPair, type Pair } from '../sip-proxy/pair.js';
import { startKamailio, type Kamailio } from './kamailio.js';

/**
 * The pair (edge, core, traversal link, in this process) with Kamailio as Unified CM: core forwards to
 * Kamailio's TCP listener, Kamailio challenges with digest and stores the Path edge and core add.
 */
export async function startPairWithKamailio(): Promise<{ pair: Pair; kam: Kamailio; close(): Promise<void> }> {
  const kam = await startKamailio({ auth: true });
  let pair: Pair;
  try {
    pair = await startPair({ core: { unified_cm: [{ publisher: '127.0.0.1', nodes: [{ address: '127.0.0.1', sip_port: kam.tcpPort }] }] } });
  } catch (err) {
    await kam.close();
    throw err;
  }
  return {
    pair,
    kam,
    async close() {
      await pair.close();
      await kam.close();
    },
  };
}
