// A TCP relay standing in for the network between two nodes (core and edge, or core and call control), so a
// test can cut the link (every connection reset, new ones refused) and restore it, with both nodes still
// running; optionally the answers (target → caller) arrive late, or rewritten.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface LinkRelay {
  port: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export interface LinkRelayOptions {
  /** Each chunk from the target is passed on this much later (in order); its close too. */
  answerDelayMs?: number;
  /** Rewrites each chunk from the target (latin1 text) before it is passed on. */
  rewriteAnswer?: (chunk: string) => string;
}

/** `target` is read as each connection comes in, so a test may fill in its port after starting the relay. */
export async function startLinkRelay(
  target: { host: string; port: number },
  opts: LinkRelayOptions = {},
): Promise<LinkRelay> {
  const { answerDelayMs = 0, rewriteAnswer } = opts;
  const later = (f: () => void) => (answerDelayMs > 0 ? void setTimeout(f, answerDelayMs) : f());
  const sockets = new Set<Socket>();
  let down = false;
  const server = createServer((inbound) => {
    inbound.on('error', () => {});
    if (down) return void inbound.destroy();
    const outbound = connect(target.port, target.host);
    outbound.on('error', () => inbound.destroy());
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => later(() => inbound.destroy()));
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    inbound.pipe(outbound);
    if (answerDelayMs === 0 && !rewriteAnswer) return void outbound.pipe(inbound);
    // Answers are short and come whole in one segment on loopback; a rewrite sees each one entire.
    outbound.on('data', (chunk: Buffer) =>
      later(
        () =>
          inbound.destroyed ||
          inbound.write(rewriteAnswer ? Buffer.from(rewriteAnswer(chunk.toString('latin1')), 'latin1') : chunk),
      ),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
