/** The node's own TLS material: PEM contents, already read from the configured files. */
export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}
