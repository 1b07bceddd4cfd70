export { startAdmin, type AdminServer, type AdminOptions } from './server.js';
