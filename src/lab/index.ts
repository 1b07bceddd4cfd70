export { startLab, type Lab, type LabOptions } from './lab.js';
export { LAB_ADDRESSES, LAB_ADMIN_PORTS } from './addresses.js';
export { startInsideServers, type InsideServers } from './inside-servers.js';
export { XmppClient, XmppStreamError, SM, type XmppClientOptions, type Resumption } from './xmpp-client.js';
export { LabImp } from './imp.js';
export { LAB_USERS } from './lab-users.js';
