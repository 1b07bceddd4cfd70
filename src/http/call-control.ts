import type { Upstreams } from './upstream.js';

/** A Unified CM cluster as core knows it: where to ask (publisher) and its nodes. */
export interface CallControlCluster {
  publisher: string;
  httpsPort: number;
  nodes: Array<{ address: string; httpsPort: number }>;
}

/**
 * Core's questions to call control over UDS: which cluster is a user's home (`clusterUser`), whether a
 * password is good (an authenticated UDS `user` read), and the token signing keys.
 */
export class CallControl {
  #rr = 0;

  constructor(
    private readonly clusters: readonly CallControlCluster[],
    private readonly upstreams: Upstreams,
  ) {}

  #base(c: CallControlCluster): string {
    return `https://${hostForUrl(c.publisher)}:${c.httpsPort}`;
  }

  /** The user's home cluster, asked of the first cluster (UDS answers for the whole enterprise). */
  async homeCluster(user: string): Promise<CallControlCluster | undefined> {
    const first = this.clusters[0];
    if (!first) return undefined;
    if (this.clusters.length === 1) return first;
    const { status, text } = await this.upstreams.fetchText(
      `${this.#base(first)}/cucm-uds/clusterUser?username=${encodeURIComponent(user)}`,
    );
    if (status !== 200) return first;
    const home = /<homeCluster>([^<]*)<\/homeCluster>/.exec(text)?.[1]?.trim().toLowerCase();
    return (
      this.clusters.find(
        (c) => c.publisher.toLowerCase() === home || c.nodes.some((n) => n.address.toLowerCase() === home),
      ) ?? first
    );
  }

  /** A node of the user's home cluster, round robin (the seeds' `userUdsServer`). */
  async homeUdsServer(user: string): Promise<{ address: string; httpsPort: number } | undefined> {
    const c = await this.homeCluster(user);
    if (!c) return undefined;
    const nodes = c.nodes.length ? c.nodes : [{ address: c.publisher, httpsPort: c.httpsPort }];
    return nodes[this.#rr++ % nodes.length];
  }

  async checkPassword(user: string, password: string): Promise<boolean> {
    const c = await this.homeCluster(user);
    if (!c) throw new Error('no call control cluster is configured');
    const basic = Buffer.from(`${user}:${password}`).toString('base64');
    const { status } = await this.upstreams.fetchText(`${this.#base(c)}/cucm-uds/user/${encodeURIComponent(user)}`, {
      authorization: `Basic ${basic}`,
    });
    if (status === 200) return true;
    if (status === 401 || status === 403 || status === 404) return false;
    throw new Error(`call control answered ${status}`);
  }

  /** The JWKS of every cluster's token issuer, merged (a user's token comes from their home cluster). */
  async tokenKeys(): Promise<string> {
    const keys: unknown[] = [];
    for (const c of this.clusters) {
      const { status, text } = await this.upstreams.fetchText(`${this.#base(c)}/ssosp/oauth/keys`);
      if (status !== 200) throw new Error(`token keys from ${c.publisher}: HTTP ${status}`);
      keys.push(...((JSON.parse(text) as { keys?: unknown[] }).keys ?? []));
    }
    return JSON.stringify({ keys });
  }
}

function hostForUrl(h: string): string {
  return h.includes(':') ? `[${h}]` : h;
}
