// Where a node keeps its state, as the configuration's `store` field says it (docs/cluster.md):
//   memory                                             this process only (the embedded default)
//   redis://[user:password@]host[:port][/db]           one Redis server (rediss:// for TLS)
//   redis-sentinel://[user:password@]h1:p1,h2:p2/master[/db]   Redis with Sentinel: the master Sentinel names
export type StoreTarget =
  | { kind: 'memory' }
  | { kind: 'redis'; host: string; port: number; db: number; tls: boolean; username?: string; password?: string }
  | {
      kind: 'sentinel';
      sentinels: Array<{ host: string; port: number }>;
      master: string;
      db: number;
      username?: string;
      password?: string;
    };

const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)$/;

/** Throws an Error whose message says what is wrong with the value (the configuration names file and field). */
export function parseStoreUrl(text: string): StoreTarget {
  if (text === 'memory') return { kind: 'memory' };
  const m = /^(redis|rediss|redis-sentinel):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/]+)(?:\/(.*))?$/.exec(text);
  if (!m)
    throw new Error(
      'must be "memory", redis://host[:port][/db], rediss://… or redis-sentinel://host:port[,host:port…]/master[/db]',
    );
  const [, scheme, user, pass, hosts, rest = ''] = m as unknown as [
    string,
    string,
    string | undefined,
    string | undefined,
    string,
    string | undefined,
  ];
  const auth = {
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(pass !== undefined ? { password: decodeURIComponent(pass) } : {}),
  };
  const db = (s: string | undefined): number => {
    if (s === undefined || s === '') return 0;
    if (!/^\d{1,2}$/.test(s) || Number(s) > 15) throw new Error(`database "${s}" must be a number from 0 to 15`);
    return Number(s);
  };
  const endpoints = hosts.split(',').map((h) => endpoint(h, scheme === 'redis-sentinel' ? 26379 : 6379));
  if (scheme === 'redis-sentinel') {
    const [master, d, ...extra] = rest.split('/');
    if (!master || !/^[A-Za-z0-9_.-]{1,64}$/.test(master))
      throw new Error(
        'redis-sentinel:// needs the master name Sentinel monitors after the hosts: redis-sentinel://h1:26379,h2:26379/mymaster',
      );
    if (extra.length) throw new Error(`unexpected path after the database: /${extra.join('/')}`);
    return { kind: 'sentinel', sentinels: endpoints, master, db: db(d), ...auth };
  }
  if (endpoints.length !== 1) throw new Error(`${scheme}:// names one server; several are redis-sentinel://…`);
  if (rest.includes('/')) throw new Error(`unexpected path "/${rest}": only a database number may follow the host`);
  return { kind: 'redis', ...endpoints[0]!, db: db(rest), tls: scheme === 'rediss', ...auth };
}

function endpoint(text: string, fallback: number): { host: string; port: number } {
  const m = /^(.*?)(?::(\d{1,5}))?$/.exec(text)!;
  const host = m[1]!;
  const port = m[2] === undefined ? fallback : Number(m[2]);
  if (!HOST.test(host)) throw new Error(`"${host}" is not a host name or address`);
  if (port < 1 || port > 65535) throw new Error(`port ${port} must be from 1 to 65535`);
  return { host: host.replace(/^\[|\]$/g, ''), port };
}

/** The target without its password, for logs and the status page. */
export function describeTarget(t: StoreTarget): string {
  switch (t.kind) {
    case 'memory':
      return 'memory (this process)';
    case 'redis':
      return `redis (${t.tls ? 'rediss' : 'redis'}://${t.host}:${t.port}/${t.db})`;
    case 'sentinel':
      return `redis via sentinel (${t.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}, master ${t.master}, db ${t.db})`;
  }
}
