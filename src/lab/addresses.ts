// Where the lab's nodes are (the CLI's status command reads the admin port without loading the rest of the lab).
// Loopback aliases stand for three hosts: the DMZ edge, the inside core, the inside servers.
export const LAB_ADDRESSES = {
  edge: '127.0.1.1',
  core: '127.0.2.1',
  inside: '127.0.3.1',
  internet: '127.0.4.1',
} as const;
export const LAB_ADMIN_PORTS = { core: 9091, edge: 9092 } as const;
