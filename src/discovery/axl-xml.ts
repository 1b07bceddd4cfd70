/**
 * The AXL-style SOAP subset discovery speaks (docs/discovery.md), shared by the client here and the lab's
 * publisher. Documents are read by a strict XML parser (saxes, namespace-aware): a malformed answer, a DOCTYPE
 * (no entity expansion), or anything that does not fit the subset is refused as garbage rather than guessed at.
 */
import { SaxesParser } from 'saxes';

export const AXL_NS = 'http://www.cisco.com/AXL/API/12.5';
/** Every AXL schema version's namespace starts so (12.5, 14.0, 15.0, …). */
export const AXL_NS_PREFIX = 'http://www.cisco.com/AXL/API/';
export const AXL_PATH = '/axl/';

export type AxlOperation = 'listProcessNode' | 'listCallManager' | 'executeSQLQuery' | 'listTokenSigningKey';
export const AXL_OPERATIONS: readonly AxlOperation[] = [
  'listProcessNode',
  'listCallManager',
  'executeSQLQuery',
  'listTokenSigningKey',
];

/** The SQL discovery sends in executeSQLQuery: the cluster security mode (0 non-secure, 1 mixed). */
export const SECURITY_MODE_SQL = "select paramvalue from processconfig where paramname = 'ClusterSecurityMode'";

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Wraps an operation body the way AXL does: SOAP 1.1 envelope, `ns` bound to the AXL schema. */
export function soapEnvelope(op: string, inner: string, response = false): string {
  const tag = response ? `${op}Response` : op;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns="${AXL_NS}">` +
    `<soapenv:Body><ns:${tag}${response ? '' : ' sequence="1"'}>${inner}</ns:${tag}></soapenv:Body></soapenv:Envelope>`
  );
}

export function soapFault(reason: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">` +
    `<soapenv:Body><soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>${xmlEscape(reason)}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>`
  );
}

/** One element of a parsed document: its local name, namespace, child elements and own text. */
export interface XmlNode {
  local: string;
  ns: string;
  children: XmlNode[];
  text: string;
}

// AXL documents are small and flat; deeper than this is not AXL.
const MAX_DEPTH = 32;

/** Parses a whole document; throws a plain Error saying what is wrong with it (the caller names whose it was). */
export function parseXml(xml: string): XmlNode {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: XmlNode[] = [];
  let root: XmlNode | undefined;
  let failure: Error | undefined;
  parser.on('error', (err) => {
    failure ??= err;
  });
  parser.on('doctype', () => {
    failure ??= new Error('a DOCTYPE is not allowed');
  });
  parser.on('opentag', (tag) => {
    const node: XmlNode = { local: tag.local, ns: tag.uri, children: [], text: '' };
    if (stack.length >= MAX_DEPTH) failure ??= new Error(`elements nested deeper than ${MAX_DEPTH}`);
    const parent = stack.at(-1);
    if (parent) parent.children.push(node);
    else root = node;
    stack.push(node);
  });
  const addText = (t: string) => {
    const top = stack.at(-1);
    if (top) top.text += t;
  };
  parser.on('text', addText);
  parser.on('cdata', addText);
  parser.on('closetag', () => {
    stack.pop();
  });
  try {
    parser.write(xml).close();
  } catch (err) {
    failure ??= err as Error;
  }
  if (failure) throw new Error(`not well-formed XML: ${failure.message.split('\n')[0]}`);
  if (!root) throw new Error('no XML element');
  return root;
}

/** Every element named `local` below `node`, in document order. */
export function descendants(node: XmlNode, local: string): XmlNode[] {
  const out: XmlNode[] = [];
  const walk = (n: XmlNode) => {
    for (const c of n.children) {
      if (c.local === local) out.push(c);
      walk(c);
    }
  };
  walk(node);
  return out;
}

/** The trimmed text of the first element named `local` below `node`; undefined when there is none. */
export function textOf(node: XmlNode, local: string): string | undefined {
  return descendants(node, local)[0]?.text.trim();
}

const SOAP_NS = 'http://schemas.xmlsoap.org/soap/envelope/';

/** The element inside a SOAP 1.1 envelope's Body (an operation, its response, or a Fault). */
export function soapBody(doc: XmlNode): XmlNode | undefined {
  if (doc.local !== 'Envelope' || doc.ns !== SOAP_NS) return undefined;
  const body = doc.children.find((c) => c.local === 'Body' && c.ns === SOAP_NS);
  return body?.children[0];
}

/** The operation a request envelope asks for, or undefined when it is not one of the subset's (or not XML). */
export function requestOperation(xml: string): { op: AxlOperation; body: XmlNode } | undefined {
  let body: XmlNode | undefined;
  try {
    body = soapBody(parseXml(xml));
  } catch {
    return undefined;
  }
  const op = AXL_OPERATIONS.find((o) => o === body?.local && body.ns.startsWith(AXL_NS_PREFIX));
  return op && body ? { op, body } : undefined;
}
