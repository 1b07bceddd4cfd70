// Errors carry stable codes (as undici's UND_ERR_* do): logs and callers match on the code, so a code must not
// follow a message's wording. Each protocol's one mapping to the wire is checked where it is made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INTERNAL, ListenerFailed, MraError, errorCode } from '../../src/host/index.js';
import { SipError, parseMessage } from '../../src/sip/message/index.js';
import { RouteError, normalizePath } from '../../src/http/index.js';
import { httpAnswer } from '../../src/http/errors.js';
import { XmppFramer, XmppFramingError } from '../../src/xmpp/index.js';
import { TraversalRefused } from '../../src/traversal/index.js';
import { ConfigError } from '../../src/config/index.js';

const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected a throw');
};

test('SIP: a fault is a SipError whose code follows its status, and which carries the status and reason to answer', () => {
  const err = thrown(() => parseMessage(Buffer.from('INVITE sip:a@b SIP/3.0\r\n\r\n')));
  assert.ok(err instanceof SipError && err instanceof MraError);
  assert.equal(err.status, 505);
  assert.equal(err.code, 'MRA_SIP_VERSION_NOT_SUPPORTED');
  assert.equal(new SipError(400, 'Bad Request - Malformed Via').code, 'MRA_SIP_BAD_REQUEST');
  assert.equal(new SipError(513, 'Message Too Large - body').code, 'MRA_SIP_MESSAGE_TOO_LARGE');
});

test('HTTP: a refusal maps to its status and a one-line body, its code to the status', () => {
  const err = thrown(() => normalizePath('/a/../../b'));
  assert.ok(err instanceof RouteError);
  assert.equal(err.code, 'MRA_HTTP_BAD_REQUEST');
  assert.deepEqual(httpAnswer(err), { status: 400, body: `${err.message}\n` });
  assert.equal(new RouteError(405, 'get_edge_sso takes GET').code, 'MRA_HTTP_METHOD_NOT_ALLOWED');
});

test('XMPP: a refused stream is a stream error condition, its code the condition', () => {
  const framer = new XmppFramer({ streamStart: () => {}, element: () => {}, streamEnd: () => {} });
  const err = thrown(() => framer.write(Buffer.from('<a></b>')));
  assert.ok(err instanceof XmppFramingError);
  assert.equal(err.condition, 'bad-format', 'mismatched tags: RFC 6120 §4.9.3.1');
  assert.equal(err.code, 'MRA_XMPP_BAD_FORMAT');
  assert.equal(new XmppFramingError('policy-violation', 'element too large').code, 'MRA_XMPP_POLICY_VIOLATION');
});

test('traversal, configuration, listeners, and errors of others', () => {
  assert.equal(new TraversalRefused('credentials', 'bad password').code, 'MRA_TRAVERSAL_CREDENTIALS');
  assert.equal(
    new TraversalRefused('something new', 'x').code,
    'MRA_TRAVERSAL_PROTOCOL',
    'a refusal this release does not know',
  );
  assert.equal(new ConfigError('a.yaml', [{ field: 'role', message: 'is required' }]).code, 'MRA_CONFIG');
  const failed = new ListenerFailed('relay latched', new TypeError('bug'));
  assert.equal(failed.code, 'MRA_LISTENER_FAILED');
  assert.equal(errorCode(failed), 'MRA_LISTENER_FAILED');
  assert.equal(errorCode(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), 'ECONNREFUSED');
  assert.equal(errorCode(new TypeError('x')), INTERNAL);
  assert.equal(errorCode('not even an error'), INTERNAL);
});
