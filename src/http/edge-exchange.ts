/**
 * One client request and its answer as the edge's handlers see them, whichever protocol carried it: the edge's
 * own HTTP/1.1 (h1-server.ts) or node's HTTP/2 compatibility objects, which already have this shape.
 */
export interface EdgeRequest {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly socket: { readonly remoteAddress?: string | undefined } | null;
}

export interface EdgeResponse {
  readonly headersSent: boolean;
  readonly destroyed: boolean;
  writeHead(status: number, headers: Record<string, string | string[]>): unknown;
  /** False when the client is not reading: wait for 'drain'. */
  write(chunk: Buffer): boolean;
  end(): unknown;
  end(body: Buffer | string): unknown;
  destroy(): void;
  /** 'close' comes once, after the answer left or when the client went away before it did. */
  on(event: 'close' | 'finish' | 'drain', cb: () => void): unknown;
  once(event: 'close' | 'finish' | 'drain', cb: () => void): unknown;
}

/** `body` is the whole request body, already within the limit: nothing is forwarded before the edge has decided. */
export type EdgeRequestHandler = (req: EdgeRequest, res: EdgeResponse, body: Buffer) => void;

const rates = new WeakMap<object, { second: number; count: number }>();

/** Requests per second on one connection (an HTTP/1.1 socket, an HTTP/2 session): true once over `max`. */
export function overRate(conn: object, max: number): boolean {
  const second = Math.floor(Date.now() / 1000);
  const r = rates.get(conn);
  if (!r || r.second !== second) {
    rates.set(conn, { second, count: 1 });
    return false;
  }
  return ++r.count > max;
}
