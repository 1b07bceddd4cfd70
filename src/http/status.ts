// The HTTPS plane's `http` status section, as the edge and core publish it.
import type { SectionStatus } from '../host/index.js';
import type { CoreTunnelStatus, EdgeTunnelStatus } from '../traversal/index.js';
import type { Authorizer } from './authorize.js';

/** The edge's: its public HTTPS port and the tunnel its requests go down. */
export interface HttpEdgeStatus extends SectionStatus {
  port: number;
  tunnel: EdgeTunnelStatus;
}

/** Core's: the tunnel it serves, sign-ins by how they were authorized, and the allow list's size. */
export interface HttpCoreStatus extends SectionStatus {
  tunnel: CoreTunnelStatus;
  authorization: Authorizer['stats'] & { tokenKeys: number };
  allowList: { automatic: number; editable: number };
}
