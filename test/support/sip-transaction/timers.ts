// RFC 3261 §17 timers, named as in Table 4 (plus L and M from RFC 6026). On a reliable transport the
// retransmission timers (A, E, G) never run and the "absorb stray retransmissions" waits (D, I, J, K) are
// zero; the values stay overridable so a datagram transport or a test can widen them.

export interface TimerValues {
  /** RTT estimate, the base of every other timer. */
  T1: number;
  /** INVITE client transaction timeout in Calling. */
  B: number;
  /** INVITE client: wait for final-response retransmissions in Completed. */
  D: number;
  /** non-INVITE client transaction timeout. */
  F: number;
  /** INVITE server: wait for the ACK to a non-2xx final response. */
  H: number;
  /** INVITE server: wait for ACK retransmissions in Confirmed. */
  I: number;
  /** non-INVITE server: wait for request retransmissions in Completed. */
  J: number;
  /** non-INVITE client: wait for response retransmissions in Completed. */
  K: number;
  /** INVITE server: absorb INVITE retransmissions after a 2xx (RFC 6026 Accepted). */
  L: number;
  /** INVITE client: let 2xx retransmissions through after the first (RFC 6026 Accepted). */
  M: number;
  /** INVITE server: send 100 Trying if the TU has not answered within this long (§17.2.1). */
  trying: number;
}

export function reliableTimers(t1 = 500): TimerValues {
  const t64 = 64 * t1;
  return { T1: t1, B: t64, D: 0, F: t64, H: t64, I: 0, J: 0, K: 0, L: t64, M: t64, trying: 200 };
}
