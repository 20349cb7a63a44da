// Worker threads do not inherit the tsx loader registered by bin/certfleet.js: this plain-JS entry registers it in
// the worker, then loads the TypeScript module named in workerData.entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
