/** Reads a check scenario (YAML → schema) and holds the built-in one: every valid kind online, every rogue refused. */
import { stringify } from 'yaml';
import { parseYamlWithSchema, readUserFile } from '../../core/yaml-schema.ts';
import { DEVICE_PROFILES } from '../models/index.ts';
import { ROGUE_KINDS } from '../../core/rogues.ts';
import { type ScenarioFile, scenarioSchema } from './scenario-schema.ts';

export interface Scenario extends ScenarioFile {
  /** Where it came from: a file path, or "built-in". */
  source: string;
}

const HINT =
  'See `certfleet check --print-scenario` for the built-in scenario, and devices/check/scenario-schema.ts for the format.';

export async function loadScenario(file: string): Promise<Scenario> {
  const text = await readUserFile(
    file,
    'scenario',
    'Pass an existing YAML file, or leave --scenario out to run the built-in scenario.',
  );
  return parseScenario(text, file);
}

export function parseScenario(text: string, file: string): Scenario {
  return {
    ...parseYamlWithSchema(text, file, scenarioSchema, { what: 'scenario', hint: HINT }),
    source: file,
  };
}

/** The built-in scenario as YAML: what `certfleet check` runs without --scenario, and a start for your own. */
export function builtinScenarioYaml(): string {
  const body = {
    version: 1,
    name: 'built-in: every valid kind online, every rogue kind and behaviour refused',
    settle: '10s',
    devices: DEVICE_PROFILES.map((profile) => ({ count: 1, profile, expect: 'online' })),
    rogues: ROGUE_KINDS.map((kind) => ({ kind, expect: 'rejected' })),
  };
  return `# certfleet check scenario (devices/check/scenario-schema.ts)\n${stringify(body)}`;
}

export function builtinScenario(): Scenario {
  return { ...parseScenario(builtinScenarioYaml(), 'built-in'), source: 'built-in' };
}
