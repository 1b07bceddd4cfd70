import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { x509 } from '../../src/certs/x509-lib.js';
import { CertificateAuthority, createCsr, sansForRole, validateNodeCertificate } from '../../src/certs/index.js';

/** `openssl req -noout -text` over the PEM, the operator's way of reading a CSR. */
function opensslText(csr: string): string {
  return execFileSync('openssl', ['req', '-noout', '-text', '-verify'], {
    input: csr,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** The SAN line as openssl prints it, e.g. ["DNS:a.example.com", "IP Address:192.0.2.1"]. */
function opensslSans(text: string): string[] {
  const m = /X509v3 Subject Alternative Name:\s*\n\s*(.+)\n/.exec(text);
  assert.ok(m, `no SAN in:\n${text}`);
  return m[1]!.split(', ').map((s) => s.trim());
}

function parsedSans(csrPem: string): string[] {
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  const ext = csr.extensions.find((e) => e.type === '2.5.29.17');
  assert.ok(ext, 'CSR carries a SAN extension request');
  return new x509.SubjectAlternativeNameExtension(ext.rawData).names.toJSON().map((n) => `${n.type}:${n.value}`);
}

const edgeInputs = {
  role: 'edge' as const,
  fqdn: 'expe1.example.com',
  aliases: ['expe-cluster.example.com', 'EXPE1.example.com'],
  registrationDomains: ['example.com', 'example.org', 'corp.local'],
  xmppFederationDomains: ['xmpp.example.com'],
  chatNodeAliases: ['chatnode1.example.com', 'chatnode2.example.com'],
};

test('edge SANs: its FQDN first, aliases, registration domains, federation domains, chat node aliases', () => {
  assert.deepEqual(sansForRole(edgeInputs), [
    'expe1.example.com',
    'expe-cluster.example.com',
    'example.com',
    'example.org',
    'xmpp.example.com',
    'chatnode1.example.com',
    'chatnode2.example.com',
  ]);
  // CollabEdgeDNS keeps the bare domain out of the certificate.
  const collab = sansForRole({ ...edgeInputs, registrationDomainFormat: 'collab-edge' });
  assert.ok(collab.includes('collab-edge.example.com') && collab.includes('collab-edge.example.org'));
  assert.ok(!collab.includes('example.com'));
  assert.ok(!collab.some((n) => n.endsWith('.local')), 'private .local domains are never SANs');
});

test('core SANs: its FQDN, the cluster name, phone security profiles as FQDNs, chat node aliases', () => {
  const sans = sansForRole({
    role: 'core',
    fqdn: 'expc1.example.com',
    clusterName: 'expc-cluster.example.com',
    phoneSecurityProfiles: ['jabber.secure.example.com', 'DX80TLSprofile.example.com'],
    chatNodeAliases: ['chatnode1.example.com'],
    ipAddresses: ['10.0.0.5'],
  });
  assert.deepEqual(sans, [
    'expc1.example.com',
    'expc-cluster.example.com',
    'jabber.secure.example.com',
    'DX80TLSprofile.example.com',
    'chatnode1.example.com',
    '10.0.0.5',
  ]);
});

test('bad role inputs are clear errors naming the field', () => {
  const bad: Array<[unknown, RegExp]> = [
    [{ role: 'middle', fqdn: 'a.example.com' }, /role must be "edge" or "core"/],
    [{ role: 'core', fqdn: 'expc1' }, /fqdn: "expc1" must be an FQDN/],
    [
      { role: 'core', fqdn: 'expc1.example.com', phoneSecurityProfiles: ['jabbersecureprofile'] },
      /phoneSecurityProfiles: "jabbersecureprofile" must be an FQDN.*X12\.6/,
    ],
    [{ role: 'edge', fqdn: 'e.example.com', aliases: ['bad_name.example.com'] }, /aliases: "bad_name\.example\.com"/],
    [{ role: 'edge', fqdn: 'e.example.com', aliases: 'e2.example.com' }, /aliases must be a list/],
    [
      { role: 'edge', fqdn: 'e.example.com', registrationDomains: ['-x.com'] },
      /registrationDomains: "-x\.com" is not a domain name/,
    ],
    [{ role: 'edge', fqdn: 'e.example.com', registrationDomainFormat: 'xmpp' }, /registrationDomainFormat/],
    [
      { role: 'core', fqdn: 'c.example.com', ipAddresses: ['300.1.1.1'] },
      /ipAddresses: "300\.1\.1\.1" is not an IP address/,
    ],
    [undefined, /role must be/],
  ];
  for (const [input, message] of bad) {
    assert.throws(
      () => sansForRole(input as Parameters<typeof sansForRole>[0]),
      (e: Error) => e instanceof TypeError && message.test(e.message),
      String(message),
    );
  }
});

test('an edge CSR carries its SANs and both EKUs, read back by @peculiar/x509 and by openssl', async () => {
  const r = await createCsr({ ...edgeInputs, registrationDomainFormat: 'collab-edge', ipAddresses: ['192.0.2.7'] });
  assert.deepEqual(
    parsedSans(r.csr),
    r.sans.map((n) => (/^\d/.test(n) ? `ip:${n}` : `dns:${n}`)),
  );
  const csr = new x509.Pkcs10CertificateRequest(r.csr);
  assert.equal(csr.subject, 'CN=expe1.example.com');
  assert.ok(await csr.verify(), 'the CSR is signed by its own key');
  const text = opensslText(r.csr);
  assert.deepEqual(
    opensslSans(text),
    r.sans.map((n) => (/^\d/.test(n) ? `IP Address:${n}` : `DNS:${n}`)),
  );
  assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  assert.match(text, /NIST CURVE: P-256/);
});

test('key type and hash are selectable: RSA 2048 with SHA-384, RSA 4096 with SHA-512, ECDSA with SHA-512', async () => {
  const cases = [
    { keyType: 'rsa-2048', hash: 'SHA-384', sig: /sha384WithRSAEncryption/, key: /Public-Key: \(2048 bit\)/ },
    { keyType: 'rsa-4096', hash: 'SHA-512', sig: /sha512WithRSAEncryption/, key: /Public-Key: \(4096 bit\)/ },
    { keyType: 'ecdsa-p256', hash: 'SHA-512', sig: /ecdsa-with-SHA512/, key: /Public-Key: \(256 bit\)/ },
  ] as const;
  for (const c of cases) {
    const r = await createCsr({
      role: 'core',
      fqdn: 'expc1.example.com',
      clusterName: 'expc.example.com',
      commonName: 'expc.example.com',
      keyType: c.keyType,
      hash: c.hash,
    });
    const text = opensslText(r.csr);
    assert.match(text, c.sig, c.keyType);
    assert.match(text, c.key, c.keyType);
    assert.match(text, /Subject: CN ?= ?expc\.example\.com/);
    assert.deepEqual(opensslSans(text), ['DNS:expc1.example.com', 'DNS:expc.example.com']);
  }
  await assert.rejects(
    createCsr({ role: 'core', fqdn: 'c.example.com', keyType: 'dsa' as never }),
    /key type must be one of/,
  );
  await assert.rejects(createCsr({ role: 'core', fqdn: 'c.example.com', hash: 'MD5' as never }), /hash must be one of/);
});

test('a CSR signed by the CA gives a certificate that passes start-up validation for its role', async () => {
  const ca = await CertificateAuthority.create({ commonName: 'csr test CA' });
  const r = await createCsr({
    role: 'core',
    fqdn: 'expc1.example.com',
    clusterName: 'expc.example.com',
    phoneSecurityProfiles: ['jabber.secure.example.com'],
  });
  const cert = await ca.signCsr(r.csr, { hash: 'SHA-384' });
  assert.deepEqual(
    validateNodeCertificate({ certPem: cert, keyPem: r.key, caPem: ca.cert, requiredNames: r.sans }),
    [],
  );
  // The CA, not the request, decides the EKUs.
  const serverOnly = await ca.signCsr(r.csr, { clientAuth: false });
  assert.deepEqual(
    validateNodeCertificate({ certPem: serverOnly, keyPem: r.key, caPem: ca.cert }).map((p) => p.code),
    ['missing-client-auth'],
  );
  await assert.rejects(
    ca.signCsr('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'),
    /CSR is not a readable/,
  );
  // A request whose signature does not match its contents is refused.
  const der = Buffer.from(new x509.Pkcs10CertificateRequest(r.csr).rawData);
  der[der.length - 5] = der[der.length - 5]! ^ 0xff;
  const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  await assert.rejects(ca.signCsr(tampered), /bad signature|not a readable/);
});
