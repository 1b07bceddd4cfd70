import type { Command } from 'commander';
import type { AdminTarget } from './admin-client.js';
import { Refused, post, print, refusedOr, type RunCommand } from './admin-run.js';

// biome-ignore lint/suspicious/noExplicitAny: the status JSON is read as the node wrote it, field by field, for display only
type Row = Record<string, any>;

/** `mra-edge diag start|stop`: diagnostic logging on the node, collected into one bundle on its host. */
export function diagCommand(diag: Command, run: RunCommand): void {
  const inherit = (c: Command) => {
    for (const o of diag.options) c.addOption(o);
    return c;
  };
  inherit(
    diag
      .command('start')
      .description("every logger to debug, status snapshots, a packet capture of the node's ports (tcpdump)"),
  )
    .option('--media', 'capture the media port range too (large)')
    .option(
      '--tls-keys',
      'also log TLS keys (NSS key log): the capture can then be decrypted, so keep the bundle secret',
    )
    .option('--no-capture', 'no packet capture')
    .option('--dir <dir>', "where the bundle goes on the node's host (default: its temporary folder)")
    .action(
      run<{ json?: boolean; media?: boolean; tlsKeys?: boolean; capture: boolean; dir?: string }>(
        async (t: AdminTarget, o) =>
          refusedOr(async () => {
            const r = await post(t, '/api/actions/diag-start', {
              capture: o.capture,
              media: o.media === true,
              tlsKeys: o.tlsKeys === true,
              ...(o.dir ? { dir: o.dir } : {}),
            });
            if (!r.ok) throw new Refused(r.text);
            const result = (r.body as { result: Row }).result;
            if (o.json) return (print(result), 0);
            print(
              [
                `diagnostic logging started at ${result.since} in ${result.dir}`,
                ...Object.entries(result.notes as Record<string, string>).map(([k, v]) => `  ${k}: ${v}`),
                'reproduce the problem, then: mra-edge diag stop',
              ].join('\n'),
            );
            return 0;
          }),
      ),
    );
  inherit(diag.command('stop').description("stop, and collect everything into one .tar.gz on the node's host")).action(
    run(async (t: AdminTarget, o) =>
      refusedOr(async () => {
        const r = await post(t, '/api/actions/diag-stop');
        if (!r.ok) throw new Refused(r.text);
        const result = (r.body as { result: Row }).result;
        if (o.json) return (print(result), 0);
        print(
          [
            `bundle: ${result.bundle} (${result.bytes} bytes)`,
            ...(result.files as string[]).map((f) => `  ${f}`),
            ...Object.entries(result.notes as Record<string, string>).map(([k, v]) => `${k}: ${v}`),
          ].join('\n'),
        );
        return 0;
      }),
    ),
  );
}
