/**
 * Capped exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff and Jitter"):
 * a fleet of cores restarting together does not reconnect in lockstep, and a refused core never busy-loops.
 */
export function backoffDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt));
  // Never below half the ceiling: jitter spreads the attempts without letting one fire immediately.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
