export { startAdmin, type AdminServer, type AdminOptions, type AdminControl, type AdminTls } from './server.js';
export {
  AlarmBoard,
  statusAlarms,
  CAPACITY_ALARM_SHARE,
  LINK_DOWN_GRACE_MS,
  type Alarm,
  type AlarmSeverity,
} from './alarms.js';
export { createMetrics, type NodeMetrics } from './metrics.js';
export { METRIC_FAMILIES, type MetricFamily } from './metric-families.js';
