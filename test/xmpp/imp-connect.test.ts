// Core's side alone: which IM&P nodes it tries, and its STARTTLS to one, against the lab IM&P and against
// servers that get it wrong (no STARTTLS, a certificate core does not trust, nothing listening).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { CertificateAuthority } from '../../src/certs/index.js';
import { coreSchema } from '../../src/config/schema.js';
import type { DiscoveryResult } from '../../src/discovery/index.js';
import { LabImp } from '../../src/lab/index.js';
import { impNodes, XmppFramer } from '../../src/xmpp/index.js';
import { connectImp } from '../../src/xmpp/imp-connect.js';
import { capturedLogger } from '../support/log-capture.js';
import { freePort } from '../support/node-files.js';

const DOMAIN = 'example.com';
let ca: CertificateAuthority;
let imp: LabImp;
let rogueImp: LabImp;
before(async () => {
  ca = await CertificateAuthority.create({ commonName: 'imp test CA' });
  const rogue = await CertificateAuthority.create({ commonName: 'someone else' });
  const log = capturedLogger('imp').log;
  imp = await new LabImp({
    address: '127.0.0.1',
    port: 0,
    tls: await ca.issue({ commonName: 'imp.example.com', dnsNames: ['imp.example.com'], ipAddresses: ['127.0.0.1'] }),
    domain: DOMAIN,
    log,
  }).start();
  rogueImp = await new LabImp({
    address: '127.0.0.1',
    port: 0,
    tls: await rogue.issue({
      commonName: 'imp.example.com',
      dnsNames: ['imp.example.com'],
      ipAddresses: ['127.0.0.1'],
    }),
    domain: DOMAIN,
    log,
  }).start();
});
after(async () => {
  await imp?.close();
  await rogueImp?.close();
});

test("core opens a TLS stream to IM&P over STARTTLS, ready for the client's own stream header", async () => {
  const tls = await connectImp({ address: '127.0.0.1', port: imp.port, tlsVerify: true }, DOMAIN, ca.cert, 5000);
  const features = new Promise<string>((resolve) => {
    const f = new XmppFramer({ streamStart: () => {}, element: (el) => resolve(el.toString()), streamEnd: () => {} });
    tls.on('data', (c: Buffer) => f.write(c));
  });
  tls.write(
    `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${DOMAIN}' version='1.0'>`,
  );
  assert.match(await features, /<mechanism>PLAIN<\/mechanism>/, 'IM&P offers SASL: the stream is under TLS');
  tls.destroy();
});

test('core refuses an IM&P node without STARTTLS, with a certificate it does not trust, or not listening', async () => {
  // A node that offers only SASL in the clear.
  const plain: Server = createServer((s) => {
    s.on('data', () =>
      s.write(
        `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'><stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`,
      ),
    );
    s.on('error', () => {});
  });
  const plainPort = await new Promise<number>((r) =>
    plain.listen(0, '127.0.0.1', () => r((plain.address() as { port: number }).port)),
  );
  try {
    await assert.rejects(
      connectImp({ address: '127.0.0.1', port: plainPort, tlsVerify: true }, DOMAIN, ca.cert, 5000),
      /offers no STARTTLS/,
    );
  } finally {
    plain.close();
  }
  await assert.rejects(
    connectImp({ address: '127.0.0.1', port: rogueImp.port, tlsVerify: true }, DOMAIN, ca.cert, 5000),
    /TLS: .*certificate/,
  );
  // tls_verify: false still encrypts, and accepts the certificate.
  (await connectImp({ address: '127.0.0.1', port: rogueImp.port, tlsVerify: false }, DOMAIN, ca.cert, 5000)).destroy();
  await assert.rejects(
    connectImp({ address: '127.0.0.1', port: await freePort(), tlsVerify: true }, DOMAIN, ca.cert, 5000),
    /ECONNREFUSED/,
  );
});

test('the IM&P nodes for a deployment: configured ones with their XMPP port, the publisher alone, then discovered ones on 5222', () => {
  const cfg = coreSchema.parse({
    role: 'core',
    tls: { cert_file: '/dev/null', key_file: '/dev/null', ca_file: '/dev/null' },
    traversal: { peers: [{ address: 'edge.example.com' }], username: 'u', password: 'p' },
    im_presence: [
      {
        publisher: 'imp1.example.com',
        nodes: [{ address: 'imp1.example.com', xmpp_port: 15222 }, { address: 'imp2.example.com' }],
      },
      { publisher: 'imp-b.example.com', deployment: 'b', tls_verify: false },
    ],
  });
  const discovered = {
    insideNodes: [
      { type: 'im_presence', address: 'IMP2.example.com', ports: {}, deployment: 'default' },
      { type: 'im_presence', address: 'imp3.example.com', ports: {}, deployment: 'default' },
      { type: 'unified_cm', address: 'cucm.example.com', ports: {}, deployment: 'default' },
    ],
  } as unknown as DiscoveryResult;
  assert.deepEqual(impNodes(cfg, 'default', discovered), [
    { address: 'imp1.example.com', port: 15222, tlsVerify: true },
    { address: 'imp2.example.com', port: 5222, tlsVerify: true },
    { address: 'imp3.example.com', port: 5222, tlsVerify: true },
  ]);
  assert.deepEqual(impNodes(cfg, 'b', undefined), [{ address: 'imp-b.example.com', port: 5222, tlsVerify: false }]);
  assert.deepEqual(impNodes(cfg, 'nowhere', discovered), []);
});
