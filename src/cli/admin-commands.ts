import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AdminUnreachable, adminRequest, refusal, type AdminTarget } from './admin-client.js';
import { renderStatus, type StatusDoc } from './status.js';
import { age, table, until } from './table.js';
import { diagCommand } from './diag.js';
import { Refused, UsageError, adminOptions, get, post, print, refusedOr, run, type Common } from './admin-run.js';

/**
 * The operator's commands, in the manner of kamcmd and rtpengine-ctl: each asks a running node's admin API
 * (the node that -c names, or --url), prints a readable answer or with --json the API's own, and exits 0 when
 * done, 1 when the node said no (or, for status, the link is not up), 2 when no node answered or the usage or
 * configuration is wrong.
 */
// biome-ignore lint/suspicious/noExplicitAny: the status JSON is read as the node wrote it, field by field, for display only
type Row = Record<string, any>;

function mediaLine(s: Row): string {
  const side = (x: Row | undefined) =>
    x
      ? `in ${x.packetsIn} pkts/${x.bytesIn} B, out ${x.packetsOut} pkts/${x.bytesOut} B, lost ${x.rtpLost ?? 0} (${x.lossPercent ?? 0}%), SRTP failures ${x.authFailures ?? 0}, latched ${x.latched ?? '-'}${x.path ? `, ${x.path} path` : ''}`
      : '-';
  return `    stream ${s.stream}${s.media ? ` (${s.media})` : ''}: ports a ${s.ports?.a?.rtp}/${s.ports?.a?.rtcp} b ${s.ports?.b?.rtp}/${s.ports?.b?.rtcp}\n      a: ${side(s.a)}\n      b: ${side(s.b)}`;
}

export function addAdminCommands(program: Command): void {
  // `calls show <id> --url …`: options after a subcommand are that subcommand's, not its parent's.
  program.enablePositionalOptions();
  adminOptions(
    program
      .command('status')
      .description(
        'every plane of a node at a glance: link, alarms, domains, discovery, registrations, calls, media, tunnel, XMPP, store; exit 0 link up, 1 not up, 2 no answer',
      ),
  ).action(
    run(async (t, o) => {
      const a = await adminRequest(t, 'GET', '/api/status');
      if (a.status !== 200)
        throw new AdminUnreachable(`admin API at ${t.url.origin} (${t.from}) answered ${refusal(a)}`);
      const doc = a.body as StatusDoc;
      print(o.json ? doc : renderStatus(doc));
      return doc.traversal?.state === 'up' ? 0 : 1;
    }),
  );

  adminOptions(
    program
      .command('registrations')
      .description('registrations held through the node (AOR, client address, since, expiry)'),
  )
    .option('--user <user>', 'only users whose name contains this')
    .option('--domain <domain>', 'only this domain')
    .action(
      run<Common & { user?: string; domain?: string }>(async (t, o) =>
        refusedOr(async () => {
          const q = new URLSearchParams({
            ...(o.user ? { user: o.user } : {}),
            ...(o.domain ? { domain: o.domain } : {}),
          });
          const list = (await get(t, `/api/registrations?${q}`)) as Row[];
          if (o.json) return (print(list), 0);
          print(
            list.length
              ? table(
                  ['AOR', 'CLIENT', 'SINCE', 'EXPIRES IN'],
                  list.map((r) => [r.aor, r.remote, age(r.since), until(r.expires)]),
                )
              : 'no registrations',
          );
          return 0;
        }),
      ),
    );

  const calls = adminOptions(
    program
      .command('calls')
      .description(
        'calls through the node: list (filter by user or domain), or `calls show <call-id>` with its legs and media',
      ),
  )
    .option('--user <user>', 'only calls with a party whose name contains this')
    .option('--domain <domain>', 'only calls with a party in this domain')
    .action(
      run<Common & { user?: string; domain?: string }>(async (t, o) =>
        refusedOr(async () => {
          const q = new URLSearchParams({
            ...(o.user ? { user: o.user } : {}),
            ...(o.domain ? { domain: o.domain } : {}),
          });
          const list = (await get(t, `/api/calls?${q}`)) as Array<{ callId: string; legs: Row[] }>;
          if (o.json) return (print(list), 0);
          const rows = list.flatMap((c) =>
            c.legs.map((l) => [
              c.callId,
              l.client,
              l.peer,
              l.direction,
              l.state,
              l.kind ?? '',
              age(l.answeredAt ?? l.since),
              (l.media ?? []).reduce((n: number, s: Row) => n + (s.a?.packetsIn ?? 0) + (s.b?.packetsIn ?? 0), 0),
            ]),
          );
          print(
            rows.length
              ? table(['CALL-ID', 'CLIENT', 'PEER', 'DIRECTION', 'STATE', 'KIND', 'FOR', 'PACKETS IN'], rows)
              : 'no calls',
          );
          return 0;
        }),
      ),
    );
  adminOptions(
    calls
      .command('show')
      .description('one call: each leg with its media streams, packets, loss and SRTP failures')
      .argument('<call-id>', 'the Call-ID, or its first characters'),
  ).action(
    run(async (t, o, id) =>
      refusedOr(async () => {
        const call = (await get(t, `/api/calls/${encodeURIComponent(id!)}`)) as { callId: string; legs: Row[] };
        if (o.json) return (print(call), 0);
        const lines = [`call ${call.callId}`];
        for (const l of call.legs) {
          lines.push(
            `  leg ${l.client} ↔ ${l.peer}, ${l.direction}, ${l.state}, since ${l.since}${l.answeredAt ? `, answered ${l.answeredAt}` : ''}`,
          );
          for (const s of (l.media ?? []) as Row[]) lines.push(mediaLine(s));
          if (!l.media?.length) lines.push('    no media');
        }
        print(lines.join('\n'));
        return 0;
      }),
    ),
  );

  adminOptions(
    program
      .command('maintenance')
      .description('maintenance mode: refuse new registrations, sign-ins and calls, keep the existing ones')
      .argument('[state]', 'on or off; without it, show the mode and the drain'),
  ).action(
    run(async (t, o, state) =>
      refusedOr(async () => {
        if (state !== undefined && state !== 'on' && state !== 'off')
          throw new UsageError(`state must be on or off, not "${state}"`);
        if (state) {
          const r = await post(t, '/api/maintenance', { on: state === 'on' });
          if (!r.ok) throw new Refused(r.text);
        }
        const doc = (await get(t, '/api/status')) as StatusDoc;
        if (o.json) return (print({ maintenance: doc.maintenance, drain: doc.drain ?? null }), 0);
        const d = doc.drain as Row | undefined;
        print(
          `maintenance mode ${doc.maintenance ? 'on' : 'off'} on ${doc.role} ${doc.node}${
            d
              ? d.drained
                ? `: drained, safe to stop (${d.registrations} registrations move as clients refresh)`
                : `: draining, ${Object.entries(d.active)
                    .map(([k, v]) => `${k} ${v}`)
                    .join(', ')}`
              : ''
          }`,
        );
        return 0;
      }),
    ),
  );

  const discovery = program
    .command('discovery')
    .description("core: the inside's nodes, zones and rules, as discovered over AXL");
  adminOptions(
    discovery
      .command('refresh')
      .description('ask the publishers again now (after changing the inside), then print what was found'),
  ).action(
    run(async (t, o) =>
      refusedOr(async () => {
        const r = await post(t, '/api/actions/discovery-refresh');
        if (!r.ok) throw new Refused(`${r.text}${/no such action/.test(r.text) ? ' (discovery runs on core)' : ''}`);
        const result = (r.body as { result: Row }).result;
        if (o.json) return (print(result), 0);
        print(
          `discovered ${result.nodes} node(s); zones: ${(result.zones ?? []).join(', ') || 'none'}${result.stale ? '; some clusters stale (see alarms)' : ''}`,
        );
        return 0;
      }),
    ),
  );

  const allow = program
    .command('allow-list')
    .description("core: the HTTP allow list (automatic rules follow discovery; editable ones are the operator's)");
  adminOptions(
    allow.command('show').description('every rule: URL, methods, match, and whether it is automatic'),
  ).action(
    run(async (t, o) =>
      refusedOr(async () => {
        const rules = (await get(t, '/api/allow-list')) as Row[];
        if (o.json) return (print(rules), 0);
        print(
          table(
            ['URL', 'METHODS', 'MATCH', 'KIND', 'DESCRIPTION'],
            rules.map((r) => [
              r.url,
              Array.isArray(r.methods) ? r.methods.join(',') : 'default',
              r.match,
              r.automatic ? 'automatic' : r.source,
              r.description,
            ]),
          ),
        );
        return 0;
      }),
    ),
  );
  adminOptions(
    allow.command('add').description('add an editable rule').argument('<url>', 'http(s)://host[:port][/path]'),
  )
    .option('--methods <list>', 'comma-separated methods (default: the default set)')
    .option('--match <type>', 'prefix or exact', 'prefix')
    .option('--description <text>', 'what the rule is for')
    .action(
      run<Common & { methods?: string; match: string; description?: string }>(async (t, o, url) =>
        allowAction(t, o, 'add', {
          url,
          match: o.match,
          ...(o.methods ? { methods: o.methods.split(',') } : {}),
          ...(o.description ? { description: o.description } : {}),
        }),
      ),
    );
  adminOptions(allow.command('remove').description('remove an editable rule').argument('<url>')).action(
    run(async (t, o, url) => allowAction(t, o, 'remove', { url })),
  );
  adminOptions(
    allow
      .command('import')
      .description("replace the operator's rules with a CSV file (Url,Deployment,HttpMethods,MatchType,Description)")
      .argument('<file.csv>'),
  ).action(
    run(async (t, o, file = '') => {
      let csv: string;
      try {
        csv = readFileSync(file, 'utf8');
      } catch (err) {
        throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
      }
      return allowAction(t, o, 'import', { csv });
    }),
  );
  adminOptions(
    allow.command('export').description('the editable rules as CSV, to stdout or a file').argument('[file.csv]'),
  ).action(
    run(async (t, o, file) =>
      refusedOr(async () => {
        const r = await post(t, '/api/actions/http-allow-list-export');
        if (!r.ok) throw new Refused(r.text);
        const result = (r.body as { result: { csv: string } }).result;
        if (o.json) return (print(result), 0);
        if (file) writeFileSync(file, result.csv);
        else process.stdout.write(result.csv);
        return 0;
      }),
    ),
  );

  adminOptions(
    program
      .command('alarms')
      .description('active alarms, or `alarms ack <id>` to acknowledge one')
      .argument('[ack]')
      .argument('[id]'),
  ).action(
    run(async (t, o, verb, id) =>
      refusedOr(async () => {
        if (verb !== undefined && (verb !== 'ack' || !id)) throw new UsageError('usage: mra-edge alarms [ack <id>]');
        if (verb === 'ack') {
          const r = await post(t, `/api/alarms/${encodeURIComponent(id!)}/acknowledge`);
          if (!r.ok) throw new Refused(r.text);
        }
        const list = (await get(t, '/api/alarms')) as Row[];
        if (o.json) return (print(list), 0);
        print(
          list.length
            ? table(
                ['ID', 'SEVERITY', 'SINCE', 'ACK', 'MESSAGE'],
                list.map((a) => [a.id, a.severity, a.since, a.acknowledged ? 'yes' : 'no', a.message]),
              )
            : 'no alarms',
        );
        return 0;
      }),
    ),
  );

  diagCommand(
    adminOptions(
      program
        .command('diag')
        .description(
          'diagnostic logging: `diag start` then `diag stop` collects debug logs, status snapshots, redacted configuration and a packet capture into one bundle',
        ),
    ),
    run,
  );
}

async function allowAction(t: AdminTarget, o: Common, verb: string, body: Record<string, unknown>): Promise<number> {
  return refusedOr(async () => {
    const r = await post(t, `/api/actions/http-allow-list-${verb}`, body);
    if (!r.ok) throw new Refused(`${r.text}${/no such action/.test(r.text) ? ' (the allow list is on core)' : ''}`);
    const result = (r.body as { result: Row }).result;
    if (o.json) return (print(result), 0);
    const what =
      verb === 'add'
        ? `added ${result.added.url}`
        : verb === 'remove'
          ? `removed ${result.removed}`
          : `imported ${result.imported} rule(s)`;
    print(`${what}; ${result.persisted ? `kept in ${result.file}` : result.note}`);
    return 0;
  });
}
