#!/usr/bin/env node
// certfleet runs straight from its TypeScript sources: tsx compiles on load, so there is no build step.
// This file is the entry point and nothing imports it; the program is bin/main.ts, the commands bin/commands/.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
await main(process.argv);
