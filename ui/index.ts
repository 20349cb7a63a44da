/** The dashboard's public entry: `runDashboard(stateDir)` is what `certfleet` (no subcommand) runs. */
export { runDashboard } from './launch/run-dashboard.ts';
export { FleetStore } from './store/fleet-store.ts';
export type { FleetControls } from './controls.ts';
