import { test } from 'node:test';
import assert from 'node:assert/strict';
import { descendants, parseXml, requestOperation, soapEnvelope, textOf } from '../../src/discovery/index.js';
import { soapBody } from '../../src/discovery/axl-xml.js';

const AXL = 'http://www.cisco.com/AXL/API/14.0';

test('AXL answers are read by element and namespace, whatever prefixes the publisher chose; entities and CDATA are text', () => {
  const xml = `<?xml version="1.0"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>
    <axl:listProcessNodeResponse xmlns:axl="${AXL}"><return>
      <processNode><name>cucm1.example.com</name><processNodeRole>CUCM Voice/Video</processNodeRole></processNode>
      <processNode><name> cucm2.example.com </name><processNodeRole><![CDATA[IM & Presence]]></processNodeRole></processNode>
      <processNode><name>a&amp;b</name></processNode>
    </return></axl:listProcessNodeResponse></S:Body></S:Envelope>`;
  const body = soapBody(parseXml(xml))!;
  assert.equal(body.local, 'listProcessNodeResponse');
  assert.equal(body.ns, AXL);
  const nodes = descendants(body, 'processNode');
  assert.deepEqual(
    nodes.map((n) => textOf(n, 'name')),
    ['cucm1.example.com', 'cucm2.example.com', 'a&b'],
  );
  assert.equal(textOf(nodes[1]!, 'processNodeRole'), 'IM & Presence');
  assert.equal(textOf(nodes[2]!, 'processNodeRole'), undefined);
});

test('malformed XML, a DOCTYPE and runaway nesting are refused, not guessed at', () => {
  assert.throws(() => parseXml('<a><b></a>'), /not well-formed XML/);
  assert.throws(() => parseXml('<html><body>Service Temporarily Unavailable</body>'), /not well-formed XML/);
  assert.throws(
    () => parseXml('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'),
    /DOCTYPE|not well-formed/,
  );
  assert.throws(() => parseXml(`${'<a>'.repeat(40)}${'</a>'.repeat(40)}`), /nested deeper/);
  assert.throws(() => parseXml(''), /XML/);
});

test('a request names its operation only inside a SOAP envelope with an AXL namespace', () => {
  const ok = requestOperation(soapEnvelope('executeSQLQuery', '<sql>select 1</sql>'));
  assert.equal(ok?.op, 'executeSQLQuery');
  assert.equal(textOf(ok!.body, 'sql'), 'select 1');
  assert.equal(requestOperation('<listProcessNode/>'), undefined, 'no envelope');
  assert.equal(requestOperation(soapEnvelope('dropTable', '')), undefined, 'not in the subset');
  assert.equal(
    requestOperation(
      '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><listProcessNode xmlns="urn:other"/></soapenv:Body></soapenv:Envelope>',
    ),
    undefined,
    'another namespace',
  );
  assert.equal(requestOperation('<<<'), undefined);
});
