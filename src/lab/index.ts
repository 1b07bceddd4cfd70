export { startLab, LAB_ADDRESSES, LAB_ADMIN_PORTS, type Lab, type LabOptions } from './lab.js';
export { startInsideServers, type InsideServers } from './inside-servers.js';
