/** `certfleet check`: a scenario of expected outcomes run against any broker, judged, reported (text, JSON, JUnit). */
export { runCheck, type CheckOptions } from './runner.ts';
export {
  loadScenario,
  parseScenario,
  builtinScenario,
  builtinScenarioYaml,
  type Scenario,
} from './scenario-load.ts';
export { preflight, type PreflightResult } from './preflight.ts';
export { formatReport, reportHeader, reportLine, reportTotals } from './report.ts';
export { junitXml } from './junit.ts';
export {
  CheckImpossible,
  type CheckReport,
  type CheckResult,
  type Expectation,
  type Observation,
} from './types.ts';
