// The capacity tool: calls at load through a pair held to CPU shares, the search for its capacity, and the report
// with its plots. No node carries it: the CLI loads it on demand (`mra-edge capacity`), the bench imports it.
export { runCapacity, preflight, type CapacityRun, type CapacityRunOptions, type PairShareRun } from './run.js';
export { writeReport, reportMarkdown, callsPerCore, atCapacity, linearity, type WrittenReport } from './report.js';
export { capacityOptions, type CapacityCliOptions } from './options.js';
export { capacityCommand } from './command.js';
export { CapacityError } from './errors.js';
export { CpuJail, findHierarchy, planCpus, checkShare, machineCpus, type Hierarchy } from './cgroup.js';
export {
  CallGenerator,
  buildCallgen,
  AUDIO,
  VIDEO,
  type StreamPlan,
  type CallMediaFigures,
  type WindowFigures,
  type FlowFigures,
} from './callgen.js';
export { CallLoad, isLive, type LiveCall, type CallOutcome } from './call-load.js';
export { CallingClient, type SipFace } from './calling-client.js';
export { StepLadder } from './ladder.js';
export {
  runStep,
  runRate,
  CRITERIA,
  type StepResult,
  type RateResult,
  type Progress,
  type StepEnv,
  type StepLoad,
} from './step.js';
export { EXPRESSWAY_SIZES, sizeNamed, deriveCalls, deriveRegistrations, type SizeKey } from './sizes.js';
export { startOurs } from './ours.js';
export { startReference, referenceMissing } from './reference.js';
export { JailedProcess, type MeasuredNode } from './jailed-process.js';
export type { PairUnderTest, PairKind, PairOptions } from './pair.js';
