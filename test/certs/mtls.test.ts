import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { CertificateAuthority, checkPeerCertificate, type PemPair } from '../../src/certs/index.js';

const EDGE = 'edge.example.com';
const CORE = 'core.example.com';

interface Outcome {
  /** The client finished the handshake and read the server's greeting. */
  clientGot?: string;
  clientError?: Error;
  /** Why the server's TLS stack did not authorize the client (node's authorizationError). */
  serverAuthError?: string;
  /** What the server saw of the client's certificate, when it let the client in. */
  serverSawSubject?: string;
}

interface Ends {
  server: PemPair;
  client: PemPair;
  ca: string;
  host?: string;
  servername?: string;
  /**
   * true: node:tls drops an unauthorized client itself (silently, after a TLS 1.3 handshake).
   * false: the server reads authorizationError and drops it, as the traversal server does.
   */
  rejectUnauthorized: boolean;
}

/**
 * An edge-like server that insists on a client certificate from its CA, and a core-like client.
 * The server greets only authorized clients, so "clientGot" proves both sides accepted each other.
 */
async function handshake(t: { after: (fn: () => Promise<void> | void) => void }, e: Ends): Promise<Outcome> {
  const { server, client, ca, host = '127.0.0.1', servername } = e;
  const out: Outcome = {};
  const srv = createServer(
    { cert: server.cert, key: server.key, ca, requestCert: true, rejectUnauthorized: e.rejectUnauthorized },
    (s: TLSSocket) => {
      if (!s.authorized) {
        out.serverAuthError = String(s.authorizationError);
        s.destroy();
        return;
      }
      out.serverSawSubject = s.getPeerX509Certificate()?.subject;
      s.end('hello core\n');
    },
  );
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  t.after(() => new Promise<void>((r) => srv.close(() => r())));
  const { port } = srv.address() as AddressInfo;
  const sock = connect({ host, port, servername, cert: client.cert, key: client.key, ca });
  t.after(() => void sock.destroy());
  let data = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => (data += d));
  sock.on('error', (err) => (out.clientError = err));
  // events.once would reject on 'error'; a refused handshake is an outcome here, not a failure.
  await new Promise<void>((r) => sock.on('close', () => r()));
  if (data) out.clientGot = data;
  return out;
}

const ca = await CertificateAuthority.create({ commonName: 'mtls test CA' });
const edge = await ca.issue({ commonName: EDGE, dnsNames: [EDGE], ipAddresses: ['127.0.0.1'] });
const core = await ca.issue({ commonName: CORE, dnsNames: [CORE] });

test('issued certificates complete a mutual TLS handshake on loopback, by IP SAN and by DNS name', async (t) => {
  const byIp = await handshake(t, { server: edge, client: core, ca: ca.cert, rejectUnauthorized: true });
  assert.equal(byIp.clientError, undefined);
  assert.equal(byIp.clientGot, 'hello core\n');
  assert.match(byIp.serverSawSubject ?? '', /CN=core\.example\.com/);
  const byName = await handshake(t, {
    server: edge,
    client: core,
    ca: ca.cert,
    servername: EDGE,
    rejectUnauthorized: true,
  });
  assert.equal(byName.clientGot, 'hello core\n');
});

test('the server certificate must carry the name the client dials', async (t) => {
  const r = await handshake(t, {
    server: edge,
    client: core,
    ca: ca.cert,
    servername: 'other.example.com',
    rejectUnauthorized: true,
  });
  assert.equal(r.clientGot, undefined);
  assert.equal((r.clientError as NodeJS.ErrnoException | undefined)?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
});

test('a client certificate from another CA is refused by the server', async (t) => {
  const rogue = await CertificateAuthority.create({ commonName: 'rogue CA' });
  const foreign = await rogue.issue({ commonName: CORE, dnsNames: [CORE] });
  const dropped = await handshake(t, { server: edge, client: foreign, ca: ca.cert, rejectUnauthorized: true });
  assert.equal(dropped.clientGot, undefined, 'the client never got past the server');
  assert.equal(dropped.serverSawSubject, undefined);
  const explained = await handshake(t, { server: edge, client: foreign, ca: ca.cert, rejectUnauthorized: false });
  assert.equal(explained.clientGot, undefined);
  assert.equal(explained.serverAuthError, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
});

test('a client certificate without the clientAuth EKU is refused by the TLS stack itself', async (t) => {
  // Worth knowing for the traversal link: OpenSSL checks the purpose before our own check ever runs.
  const serverOnly = await ca.issue({ commonName: CORE, dnsNames: [CORE], clientAuth: false });
  assert.deepEqual(
    checkPeerCertificate({ certPem: serverOnly.cert, subjectName: CORE, requireClientAuth: true }).map((p) => p.code),
    ['missing-client-auth'],
  );
  const r = await handshake(t, { server: edge, client: serverOnly, ca: ca.cert, rejectUnauthorized: false });
  assert.equal(r.clientGot, undefined);
  assert.equal(r.serverAuthError, 'INVALID_PURPOSE');
});

test('RSA certificates with SHA-384 and SHA-512 signatures work for mutual TLS too', async (t) => {
  const rsaCa = await CertificateAuthority.create({ commonName: 'rsa test CA', keyType: 'rsa-2048', hash: 'SHA-384' });
  const rsaEdge = await rsaCa.issue({
    commonName: EDGE,
    ipAddresses: ['127.0.0.1'],
    keyType: 'rsa-2048',
    hash: 'SHA-512',
  });
  const rsaCore = await rsaCa.issue({ commonName: CORE, keyType: 'rsa-2048', hash: 'SHA-384' });
  const r = await handshake(t, { server: rsaEdge, client: rsaCore, ca: rsaCa.cert, rejectUnauthorized: true });
  assert.equal(r.clientError, undefined);
  assert.equal(r.clientGot, 'hello core\n');
});

test('a leaf from an intermediate CA is accepted by a peer that trusts only the root', async (t) => {
  const sub = await ca.issueIntermediate({ commonName: 'mtls issuing CA' });
  const subCore = await sub.issue({ commonName: CORE, dnsNames: [CORE] });
  const r = await handshake(t, { server: edge, client: subCore, ca: ca.cert, rejectUnauthorized: true });
  assert.equal(r.clientGot, 'hello core\n');
  assert.match(r.serverSawSubject ?? '', /CN=core\.example\.com/);
});
