/**
 * The AXL-style SOAP subset discovery speaks (docs/discovery.md), shared by the client here and the lab's
 * publisher. AXL documents are flat and small; a few anchored patterns read them without an XML library,
 * and anything that does not fit the subset is refused as garbage rather than guessed at.
 */
export const AXL_NS = 'http://www.cisco.com/AXL/API/12.5';
export const AXL_PATH = '/axl/';

export type AxlOperation = 'listProcessNode' | 'listCallManager' | 'executeSQLQuery' | 'listTokenSigningKey';
export const AXL_OPERATIONS: readonly AxlOperation[] = ['listProcessNode', 'listCallManager', 'executeSQLQuery', 'listTokenSigningKey'];

/** The SQL discovery sends in executeSQLQuery: the cluster security mode (0 non-secure, 1 mixed). */
export const SECURITY_MODE_SQL = "select paramvalue from processconfig where paramname = 'ClusterSecurityMode'";

const ENTITIES: Record<string, string> = { '&lt;': '<', '&gt;': '>', '&quot;': '"', '&apos;': "'", '&amp;': '&' };

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function xmlUnescape(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (e) => ENTITIES[e]!);
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

const esc = (tag: string) => tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The inner text of every `<tag>` (any namespace prefix), in document order. */
export function elements(xml: string, tag: string): string[] {
  const re = new RegExp(`<(?:[A-Za-z0-9_-]+:)?${esc(tag)}(?:\\s[^>]*)?>([\\s\\S]*?)</(?:[A-Za-z0-9_-]+:)?${esc(tag)}>`, 'g');
  return [...xml.matchAll(re)].map((m) => m[1]!);
}

/** The text of the first `<tag>`, unescaped and trimmed; undefined when absent. */
export function text(xml: string, tag: string): string | undefined {
  const first = elements(xml, tag)[0];
  return first === undefined ? undefined : xmlUnescape(first).trim();
}

/** The operation a request envelope asks for, or undefined when it is not one of the subset's. */
export function requestOperation(xml: string): AxlOperation | undefined {
  const body = elements(xml, 'Body')[0];
  if (body === undefined) return undefined;
  const m = /<(?:[A-Za-z0-9_-]+:)?([A-Za-z]+)[\s>]/.exec(body);
  return AXL_OPERATIONS.find((op) => op === m?.[1]);
}
