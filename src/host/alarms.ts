/**
 * Alarms: conditions an operator must act on. A plane raises one through its context (NodeContext.alarm); the
 * admin API shows and counts them (src/admin/alarms.ts keeps the board and reads the rest off the status).
 */
export type AlarmSeverity = 'warning' | 'error';

export interface Alarm {
  id: string;
  severity: AlarmSeverity;
  message: string;
  since: string;
  /** When an operator acknowledged it (it stays listed until its cause goes away). */
  acknowledged?: string;
}
