import { startPairInFrontOf, type Pair } from '../sip-proxy/pair.js';
import { startKamailio, type Kamailio } from './kamailio.js';

/**
 * The pair (edge, core, traversal link, in this process) with Kamailio as Unified CM: core forwards to
 * Kamailio's TCP listener, Kamailio challenges with digest and stores the Path edge and core add.
 */
export async function startPairWithKamailio(): Promise<{ pair: Pair; kam: Kamailio; close(): Promise<void> }> {
  const kam = await startKamailio({ auth: true });
  const { pair, close } = await startPairInFrontOf(kam, kam.tcpPort);
  return { pair, kam, close };
}
