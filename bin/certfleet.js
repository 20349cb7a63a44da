#!/usr/bin/env node
// certfleet runs straight from its TypeScript sources: tsx compiles on load, so there is no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli.ts');
await main(process.argv);
