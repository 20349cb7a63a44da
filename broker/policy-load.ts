/**
 * Reads a policy file: YAML → schema → compiled policy. Every error names the file, the line and the entry,
 * e.g. `policy.yaml:9: identities[0].publish[1]: "devices/#/x": '#' must be a whole level and the last one`.
 */
import { parseYamlWithSchema, readUserFile } from '../core/yaml-schema.ts';
import { compilePolicy, type Policy } from './policy.ts';
import { policySchema } from './policy-schema.ts';

export async function loadPolicy(file: string): Promise<Policy> {
  const text = await readUserFile(
    file,
    'policy',
    'run `certfleet pki init` to write the default policy, or pass --policy <file>',
  );
  return parsePolicy(text, file);
}

export function parsePolicy(text: string, file: string): Policy {
  const data = parseYamlWithSchema(text, file, policySchema, {
    what: 'policy',
    hint: 'see broker/policy-schema.ts for the format; quote filters that contain {cn} ("devices/{cn}/#")',
  });
  return compilePolicy(data, file);
}
