// The kernel below the planes: what every plane may import and none owns. The node context's type (the one
// object a plane is handed), the TLS material, alarm types, and the services more than one plane uses
// (intrusion protection: HTTPS and XMPP on the edge). Nothing here imports a plane or the composition root.
export type { NodeContext } from './context.js';
export type { TlsFiles } from './tls.js';
export type { Alarm, AlarmSeverity } from './alarms.js';
export {
  IntrusionProtection,
  type IntrusionCategory,
  type CategorySettings,
  type IntrusionStatus,
  type IntrusionSharing,
  type SharedBlock,
} from './intrusion.js';
export {
  CAPACITY_COUNTS,
  TRAFFIC,
  capacityOf,
  linkFigures,
  sectionFigures,
  type Capacity,
  type CapacityCount,
  type LinkSection,
  type SectionStatus,
  type StatusDocument,
  type Traffic,
} from './status.js';
export { BadInput, ChangeConflict, INTERNAL, ListenerFailed, MraError, errorCode } from './errors.js';
export {
  SharedSetting,
  SettingBusy,
  SettingUnavailable,
  type SharedCopy,
  type SharedSettingOptions,
  type SharedSettingStatus,
} from './shared-setting.js';
export { shareSetting, type SharingContext } from './shared-config.js';
export { storeSharing } from './intrusion-shared.js';
