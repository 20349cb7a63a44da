/** Simulated devices and the fleet: sensor models, mTLS lifecycle and diagnosis, rogues, worker threads. */
export * from './events.ts';
export { SimulatedDevice, type DeviceResult } from './device.ts';
export { Fleet, type FleetOptions, type FleetListener } from './fleet.ts';
export { planFleet, parseProfiles, deviceId, type FleetPlan } from './plan.ts';
export type { DeviceSpec, BrokerAddress, DeviceCredentialPaths } from './spec.ts';
export { DEFAULT_INTERVAL_MS } from './spec.ts';
export { startImpostorBroker, type ImpostorBroker } from './impostor-broker.ts';
export {
  AuditExplainer,
  brokerAuditExplainer,
  auditFileExplainer,
  auditFeedExplainer,
  explainOnDialledNode,
  firstExplanation,
  refineAttempt,
  type Explainer,
  type Explanation,
} from './explain.ts';
export type { Diagnosis } from './diagnosis.ts';
export { summarize, formatSummary, type FleetSummary } from './summary.ts';
export { runHeadlessFleet, type HeadlessRunOptions, type HeadlessRunResult } from './run.ts';
export { createSensorModel, createFaultyModel, DEVICE_PROFILES, PROFILE_ID_PREFIX } from './models/index.ts';
export type { FaultConfig, Reading, SensorModel } from './models/index.ts';
export { Backoff, type BackoffOptions } from './backoff.ts';
export { topics, type TelemetryPayload } from './topics.ts';
export { DEVICE_COMMANDS, type CommandReply } from './commands.ts';
