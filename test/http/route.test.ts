import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RouteError,
  decodeRoutingSegment,
  encodeServiceRoute,
  normalizePath,
  parseEdgeTarget,
} from '../../src/http/index.js';

const isLab = (d: string) => d === 'ucdemolab.com';

test("the seeds' routing segments decode, padded or not, standard or URL-safe", () => {
  assert.equal(decodeRoutingSegment('dWNkZW1vbGFiLmNvbQ'), 'ucdemolab.com');
  assert.equal(decodeRoutingSegment('dWNkZW1vbGFiLmNvbQ=='), 'ucdemolab.com');
  const route = 'ucdemolab.com/https/cucm-pub.ucdemolab.com/8443';
  const std = Buffer.from(route).toString('base64');
  assert.equal(decodeRoutingSegment(std), route);
  assert.equal(decodeRoutingSegment(Buffer.from(route).toString('base64url')), route);
  // A segment whose base64 has + and / in the standard alphabet, so both alphabets are really exercised.
  assert.ok(/[+/]/.test(Buffer.from('ucdemolab.com/http/w~~~.x/8443').toString('base64')));
  assert.equal(
    decodeRoutingSegment(Buffer.from('ucdemolab.com/http/w~~~.x/8443').toString('base64')),
    'ucdemolab.com/http/w~~~.x/8443',
  );
  assert.equal(
    decodeRoutingSegment(Buffer.from('ucdemolab.com/http/w~~~.x/8443').toString('base64url')),
    'ucdemolab.com/http/w~~~.x/8443',
  );
});

test('edge-config and service routes parse; anything else is 400 or 404 with a reason', () => {
  assert.deepEqual(parseEdgeTarget('/dWNkZW1vbGFiLmNvbQ/get_edge_config?service_name=_cisco-uds', isLab), {
    kind: 'edge-config',
    domain: 'ucdemolab.com',
    search: '?service_name=_cisco-uds',
  });
  const seg = encodeServiceRoute('ucdemolab.com', 'https', 'cucm-pub.ucdemolab.com', 8443);
  assert.deepEqual(parseEdgeTarget(`/${seg}/cucm-uds/clusterUser?username=mdude`, isLab), {
    kind: 'service',
    domain: 'ucdemolab.com',
    scheme: 'https',
    host: 'cucm-pub.ucdemolab.com',
    port: 8443,
    path: '/cucm-uds/clusterUser',
    search: '?username=mdude',
  });
  const status = (target: string) => {
    try {
      parseEdgeTarget(target, isLab);
      return 200;
    } catch (err) {
      assert.ok(err instanceof RouteError);
      assert.ok(err.message.length > 5);
      return err.status;
    }
  };
  const b = (s: string) => Buffer.from(s).toString('base64');
  assert.equal(status(`/${b('other.com')}/get_edge_config`), 404, 'unknown domain');
  assert.equal(status(`/${b('other.com/https/h/8443')}/x`), 404);
  assert.equal(status(`/${b('ucdemolab.com')}/get_something_else`), 404);
  assert.equal(status('/not*base64/x'), 400);
  assert.equal(status('/a/x'), 400, 'impossible length');
  assert.equal(status(`/${b('ucdemolab.com/ftp/h/21')}/x`), 400, 'scheme');
  assert.equal(status(`/${b('ucdemolab.com/https/h/0')}/x`), 400, 'port 0');
  assert.equal(status(`/${b('ucdemolab.com/https/h/65536')}/x`), 400, 'port range');
  assert.equal(status(`/${b('ucdemolab.com/https/h/08443')}/x`), 400, 'leading zero');
  assert.equal(status(`/${b('ucdemolab.com/https/user@h/8443')}/x`), 400, 'userinfo');
  assert.equal(status(`/${b('ucdemolab.com/https/h/8443/extra')}/x`), 400, 'extra part');
  assert.equal(status(`/${b('ucdemolab.com/https/h\r\nX: y/8443')}/x`), 400, 'CR/LF in host');
  assert.equal(status(`/${b('ucdemolab.com\u0000')}/get_edge_config`), 400, 'NUL');
  assert.equal(status('/dWNkZW1vbGFiLmNvbR/get_edge_config'), 400, 'stray bits (non-canonical base64)');
  assert.equal(status('relative'), 400);
});

test('paths are decoded once with dot-segments resolved; encoded slashes, dots, percents and backslashes are refused', () => {
  assert.equal(normalizePath('/cucm-uds/user/mdude'), '/cucm-uds/user/mdude');
  assert.equal(normalizePath('/cucm-uds/./user/x/../mdude'), '/cucm-uds/user/mdude');
  assert.equal(normalizePath('/a/b/..'), '/a/');
  assert.equal(normalizePath('/a%20b/c%3Ad'), '/a%20b/c:d');
  for (const bad of [
    '/../etc/passwd',
    '/a/../../x',
    '/a/%2e%2e/x',
    '/a%2fb',
    '/a%2Fb',
    '/a/%252e%252e/x',
    '/a\\b',
    '/a%5cb',
    '/a%0d%0aX',
    '/a\r\nb',
    '/a b',
    '/a%zz',
    '/a%00b',
  ]) {
    assert.throws(() => normalizePath(bad), RouteError, bad);
  }
});
