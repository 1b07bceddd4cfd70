import type { Command } from 'commander';
import type { AdminTarget } from './admin-client.js';
import { table } from './table.js';
import { Refused, UsageError, adminOptions, get, post, print, refusedOr, run, type Common } from './admin-run.js';

// biome-ignore lint/suspicious/noExplicitAny: the node's JSON answers are read field by field, for display only
type Row = Record<string, any>;

const SERVICES = ['sip_registrations', 'on_node', 'im_presence', 'xmpp_federation'] as const;
const flag = (s: string) => `--${s.replace(/_/g, '-')}`;

/** Asks a core to run a configuration action and says what it did, and where the change went (file, cluster). */
async function configAction(
  t: AdminTarget,
  o: Common,
  action: string,
  body: Record<string, unknown>,
  say: (r: Row) => string,
) {
  return refusedOr(async () => {
    const r = await post(t, `/api/actions/${action}`, body);
    if (!r.ok) throw new Refused(`${r.text}${/no such action/.test(r.text) ? ' (the domains are on core)' : ''}`);
    const result = (r.body as { result: Row }).result;
    if (o.json) return (print(result), 0);
    print(
      `${say(result)}; version ${result.version}${result.shared ? ', in force on every peer of the cluster' : ' (this node)'}`,
    );
    return 0;
  });
}

/**
 * The configuration a cluster's peers hold alike (docs/cluster.md, "Shared configuration"): the MRA domains
 * (`domains show|set|remove`) and `config push`, which makes this node's file the cluster's copy. The allow list's
 * commands are `allow-list …`.
 */
export function addConfigCommands(program: Command): void {
  const domains = program
    .command('domains')
    .description("core: the MRA domains and their services; on a shared store, the cluster's");
  adminOptions(domains.command('show').description('every domain with its services and deployment')).action(
    run(async (t, o) =>
      refusedOr(async () => {
        const list = (await get(t, '/api/domains')) as Row[];
        if (o.json) return (print(list), 0);
        print(
          list.length
            ? table(
                ['DOMAIN', 'DEPLOYMENT', ...SERVICES.map((s) => s.toUpperCase())],
                list.map((d) => [d.name, d.deployment, ...SERVICES.map((s) => (d[s] ? 'on' : 'off'))]),
              )
            : 'no domains',
        );
        return 0;
      }),
    ),
  );
  const set = domains
    .command('set')
    .description(
      'add a domain, or change the services of one: services not named keep what they were (off for a new one)',
    )
    .argument('<domain>');
  for (const s of SERVICES) set.option(`${flag(s)} <on|off>`, `the service ${s}`);
  adminOptions(set.option('--deployment <name>', 'the deployment (partition) it belongs to')).action(
    run<Common & Record<string, string | undefined>>(async (t, o, name) => {
      const body: Record<string, unknown> = { name };
      for (const s of SERVICES) {
        const key = s.replace(/_(.)/g, (_m, c: string) => c.toUpperCase());
        const v = o[key];
        if (v === undefined) continue;
        if (v !== 'on' && v !== 'off') throw new UsageError(`${flag(s)} must be on or off, not "${v}"`);
        body[s] = v === 'on';
      }
      if (o.deployment !== undefined) body.deployment = o.deployment;
      return configAction(t, o, 'domains-set', body, (r) => `set ${r.domain.name}`);
    }),
  );
  adminOptions(domains.command('remove').description('remove a domain').argument('<domain>')).action(
    run(async (t, o, name) => configAction(t, o, 'domains-remove', { name }, (r) => `removed ${r.removed}`)),
  );

  const config = program
    .command('config')
    .description("the configuration a cluster's peers share (domains, allow-list)");
  adminOptions(
    config
      .command('push')
      .description(
        "make this node's configuration file the cluster's copy of a setting (after the config.<setting>-differs alarm)",
      )
      .argument('<setting>', 'domains or allow-list'),
  ).action(run(async (t, o, setting) => configAction(t, o, 'config-push', { setting }, (r) => `pushed ${r.setting}`)));
}
