import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainTable, attachDomains } from '../../src/domains/index.js';

const table = () => {
  const sections = new Map<string, () => unknown>();
  const t = attachDomains({
    cfg: {
      domains: [
        {
          name: 'Example.COM',
          sip_registrations: true,
          im_presence: true,
          on_node: false,
          xmpp_federation: false,
          deployment: 'default',
        },
        {
          name: 'partner.example.net',
          sip_registrations: false,
          im_presence: false,
          on_node: false,
          xmpp_federation: true,
          deployment: 'dmz',
        },
      ],
    },
    addStatus: (name, read) => sections.set(name, read),
  });
  return { t, sections };
};

test('lookup ignores case and a trailing dot; unknown names and non-strings are simply not ours', () => {
  const { t } = table();
  assert.equal(t.lookup('example.com.')?.name, 'Example.COM');
  assert.equal(t.lookup(undefined as never), undefined);
  assert.equal(t.lookup('EXAMPLE.com')?.sip_registrations, true);
  assert.equal(t.lookup('other.com'), undefined);
  assert.equal(t.allows('partner.example.net', 'xmpp_federation'), true);
  assert.equal(t.allows('partner.example.net', 'sip_registrations'), false);
});

test('withFlag lists the domains offering a service; an unknown service is a clear TypeError', () => {
  const { t } = table();
  assert.deepEqual(
    t.withFlag('xmpp_federation').map((d) => d.name),
    ['partner.example.net'],
  );
  assert.deepEqual(
    t.withFlag('im_presence').map((d) => d.name),
    ['Example.COM'],
  );
  assert.deepEqual(t.withFlag('on_node'), []);
  assert.throws(() => t.withFlag('voicemail' as never), /unknown domain service voicemail/);
  assert.equal(t.list().length, 2);
});

test('the "domains" status section names each service as the product does', () => {
  const { sections } = table();
  assert.deepEqual(sections.get('domains')!(), [
    {
      name: 'Example.COM',
      deployment: 'default',
      services: [
        'SIP registrations and provisioning on Unified CM',
        'IM and Presence Service registrations and provisioning',
      ],
    },
    { name: 'partner.example.net', deployment: 'dmz', services: ['XMPP federation'] },
  ]);
});

test('the table sent to the edge round-trips through JSON', () => {
  const { t } = table();
  const back = DomainTable.parse(JSON.stringify(t));
  assert.equal(back.allows('example.com', 'sip_registrations'), true);
  assert.throws(() => DomainTable.parse('{"not":"a list"}'), /must be a JSON array/);
});
