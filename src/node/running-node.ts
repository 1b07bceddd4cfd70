/** What a composition root hands back: enough to watch it and stop it. */
export interface RunningNode {
  role: 'edge' | 'core' | 'relay';
  name: string;
  /** Ports actually bound (they differ from the configuration where it asked for 0). */
  ports: Record<string, number>;
  status(): unknown;
  /** Drains and stops everything the node started. */
  close(): Promise<void>;
}
