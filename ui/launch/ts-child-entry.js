// A child process started with fork() runs plain Node: this entry registers the tsx loader (as bin/certfleet.js
// does), then loads the TypeScript module named by the first argument. The other arguments are for `ps` and people:
// they name the state dir, so a leftover process is easy to find.
import { register } from 'tsx/esm/api';

register();
await import(process.argv[2]);
