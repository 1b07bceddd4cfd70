// The reference for bench:http: nginx (Debian) as the same two-hop TLS reverse-proxy chain, an "edge" nginx
// terminating the client's TLS and proxying over TLS to a "core" nginx, which strips the routing segment and
// proxies over TLS to the same inside server. One worker process per hop, as our edge and core are one process
// each; keep-alive upstream pools on both hops, as ours has (the tunnel, undici's pool).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface NginxHop {
  name: string;
  listen: number;
  upstream: number;
  /** The core hop removes the base64 routing segment; the edge hop passes the path on. */
  stripRoute: boolean;
}

function conf(dir: string, hop: NginxHop, cert: string, key: string, ca: string): string {
  const tmp = join(dir, `${hop.name}-tmp`);
  mkdirSync(tmp, { recursive: true });
  return `user root;
worker_processes 1;
daemon off;
master_process on;
pid ${join(dir, `${hop.name}.pid`)};
error_log ${join(dir, `${hop.name}.err`)} warn;
worker_rlimit_nofile 20000;
events { worker_connections 8192; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${tmp}/body; proxy_temp_path ${tmp}/proxy; fastcgi_temp_path ${tmp}/fcgi;
  uwsgi_temp_path ${tmp}/uwsgi; scgi_temp_path ${tmp}/scgi;
  keepalive_requests 1000000;
  upstream next { server 127.0.0.1:${hop.upstream}; keepalive 512; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${hop.listen} ssl http2;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      ${hop.stripRoute ? 'rewrite ^/[^/]+(/.*)$ $1 break;' : ''}
      proxy_pass https://next;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_session_reuse on;
      proxy_ssl_verify on;
      proxy_ssl_trusted_certificate ${ca};
      proxy_ssl_name ${hop.stripRoute ? 'inside.example.com' : 'core.example.com'};
      proxy_ssl_server_name on;
    }
  }
}
`;
}

export class NginxChain {
  readonly #procs: ChildProcess[] = [];

  static async start(
    dir: string,
    hops: NginxHop[],
    tls: Record<string, { cert: string; key: string }>,
    ca: string,
  ): Promise<NginxChain> {
    const chain = new NginxChain();
    for (const hop of hops) {
      const file = join(dir, `${hop.name}.conf`);
      writeFileSync(file, conf(dir, hop, tls[hop.name]!.cert, tls[hop.name]!.key, ca));
      const p = spawn('nginx', ['-p', dir, '-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      chain.#procs.push(p);
      await new Promise((r) => setTimeout(r, 300));
      if (p.exitCode !== null) throw new Error(`nginx ${hop.name} exited ${p.exitCode}: ${err}`);
    }
    return chain;
  }

  pids(): number[] {
    return this.#procs.map((p) => p.pid!).filter(Boolean);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#procs.map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const exited = once(p, 'exit');
        p.kill('SIGQUIT'); // nginx: graceful shutdown of master and workers
        const t = setTimeout(() => p.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }),
    );
  }
}
