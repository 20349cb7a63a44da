import { useEffect, useState } from 'react';
import type { ConnectionInfo } from './connect-commands.ts';
import type { CertificateSummary, FleetControls } from './controls.ts';
import type { FleetStore } from './store/fleet-store.ts';
import type { DeviceView } from './store/types.ts';

/**
 * Re-renders when the store changes (the store already caps that at one notification per frame) and once a second,
 * so uptime, rates and expiring feedback move even when nothing happens.
 */
export function useStoreVersion(store: FleetStore): number {
  const [version, setVersion] = useState(store.version);
  useEffect(() => {
    const unsubscribe = store.subscribe(() => setVersion(store.version));
    // The clock only repaints when the data did not just do so.
    const clock = setInterval(() => {
      if (Date.now() - store.lastNotify > 900) setVersion((v) => v + 0.5);
    }, 1000);
    return () => {
      unsubscribe();
      clearInterval(clock);
    };
  }, [store]);
  return version;
}

const cache = new Map<string, CertificateSummary | null>();

/** The selected device's certificate, loaded once per device (again after a revocation changes its status). */
export function useCertificate(
  controls: FleetControls,
  device: DeviceView | undefined,
): CertificateSummary | null | undefined {
  const key = device ? `${device.id}:${device.revoked}` : undefined;
  const [loaded, setLoaded] = useState<{ key: string; certificate: CertificateSummary | null }>();
  const id = device?.id;
  useEffect(() => {
    if (!key || !id || cache.has(key)) return;
    let current = true;
    const settle = (certificate: CertificateSummary | null) => {
      cache.set(key, certificate);
      if (current) setLoaded({ key, certificate });
    };
    controls.certificate(id).then(settle, () => settle(null));
    return () => {
      current = false;
    };
  }, [key, id, controls]);
  if (key === undefined) return undefined;
  // Never show the previous device's certificate while this one loads.
  return loaded?.key === key ? loaded.certificate : cache.get(key);
}

/** How to connect as this device (the `y` view), loaded when the view opens. */
export function useConnection(
  controls: FleetControls,
  id: string | undefined,
): ConnectionInfo | null | undefined {
  const [loaded, setLoaded] = useState<{ id: string; info: ConnectionInfo | null }>();
  useEffect(() => {
    if (!id) return;
    let current = true;
    controls.connection(id).then(
      (info) => current && setLoaded({ id, info }),
      () => current && setLoaded({ id, info: null }),
    );
    return () => {
      current = false;
    };
  }, [id, controls]);
  return id !== undefined && loaded?.id === id ? loaded.info : undefined;
}
