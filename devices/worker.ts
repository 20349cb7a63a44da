/**
 * A fleet worker thread: hosts many devices, so their handshakes and crypto never block the thread that owns the UI.
 * It takes commands from the parent and sends back batched device events.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SimulatedDevice } from './device.ts';
import { EventBatch } from './event-batch.ts';
import type { FromWorker, ToWorker, WorkerSettings } from './fleet-protocol.ts';
import { RateGate } from './rate-gate.ts';

const port = parentPort;
if (!port) throw new Error('devices/worker.ts must run in a worker thread');
const settings = workerData as WorkerSettings;
const gate = new RateGate(settings.connectRatePerSecond);
const devices = new Map<string, SimulatedDevice>();
const batch = new EventBatch();

const send = (message: FromWorker) => port.postMessage(message);
const flush = () => {
  if (batch.size > 0) send({ type: 'events', events: batch.drain() });
};
const flushTimer = setInterval(flush, settings.flushMs);

const each = (ids: string[], action: (device: SimulatedDevice) => unknown) => {
  for (const id of ids) {
    const device = devices.get(id);
    if (device) void action(device);
  }
};

port.on('message', async (message: ToWorker) => {
  try {
    switch (message.type) {
      case 'add':
        for (const spec of message.specs) {
          if (devices.has(spec.id)) continue;
          const device = new SimulatedDevice(spec, (event) => batch.push(event), gate);
          devices.set(spec.id, device);
          batch.push({
            type: 'added',
            device: { id: spec.id, kind: spec.kind, rogue: spec.rogue },
            at: Date.now(),
          });
          device.start();
        }
        break;
      case 'remove':
        await Promise.all(
          message.ids.map(async (id) => {
            const device = devices.get(id);
            if (!device) return;
            devices.delete(id);
            await device.stop();
            batch.push({ type: 'removed', id, at: Date.now() });
          }),
        );
        break;
      case 'pause':
        each(message.ids, (device) => device.pause());
        break;
      case 'resume':
        each(message.ids, (device) => device.resume());
        break;
      case 'command':
        devices.get(message.id)?.command(message.name, Buffer.from(message.payload ?? ''));
        break;
      case 'results':
        send({
          type: 'results',
          requestId: message.requestId,
          results: [...devices.values()].map((d) => d.result()),
        });
        break;
      case 'stop': {
        await Promise.all([...devices.values()].map((device) => device.stop()));
        flush();
        clearInterval(flushTimer);
        send({
          type: 'stopped',
          requestId: message.requestId,
          results: [...devices.values()].map((d) => d.result()),
        });
        break;
      }
    }
  } catch (error) {
    send({ type: 'fatal', message: (error as Error)?.stack ?? String(error) });
  }
});

send({ type: 'ready' });
