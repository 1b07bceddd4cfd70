// Load clients for the SIP plane: many remote clients over TLS, one connection each, spread over worker threads.
export { LoadClients, type LoadClientsOptions, type LoadSummary, type LoadStats } from './load-clients.js';
export {
  RegisteringClient,
  type RegisteringClientOptions,
  type RegisterOutcome,
  type SipTarget,
  type ClientIdentity,
} from './registering-client.js';
export { LatencyHistogram } from './histogram.js';
