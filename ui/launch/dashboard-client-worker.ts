/**
 * The dashboard's own MQTT client, in a worker thread so its TLS handshake and message parsing never run on the UI
 * thread. It is an mTLS client like any device: it presents the `dashboard` certificate, trusts only our root, and
 * reads what the policy grants `dashboard` (the audit feed, device replies); it publishes commands to devices.
 * Messages to the UI are batched every 50 ms: one structured clone per batch, not per record.
 */
import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import mqtt from 'mqtt';

export interface DashboardClientConfig {
  host: string;
  port: number;
  chain: string;
  key: string;
  ca: string;
  topics: string[];
}

export type DashboardClientMessage =
  | { type: 'status'; connected: boolean; subscribed?: boolean; detail?: string }
  | { type: 'messages'; batch: { topic: string; payload: string }[] }
  /** The outcome of publish request `id`: no error means the broker acknowledged it (PUBACK, QoS 1). */
  | { type: 'published'; id: number; error?: string };

export type DashboardClientRequest =
  | { type: 'publish'; id: number; topic: string; payload: string }
  | { type: 'stop' };

async function main(port: NonNullable<typeof parentPort>, config: DashboardClientConfig): Promise<void> {
  const [cert, key, ca] = await Promise.all([
    readFile(config.chain),
    readFile(config.key),
    readFile(config.ca),
  ]);
  const client = mqtt.connect({
    protocol: 'mqtts',
    host: config.host,
    port: config.port,
    servername: 'localhost',
    protocolVersion: 4, // aedes speaks MQTT 3.1.1
    clientId: 'dashboard',
    cert,
    key,
    ca,
    rejectUnauthorized: true,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  });
  const post = (message: DashboardClientMessage) => port.postMessage(message);
  let batch: { topic: string; payload: string }[] = [];
  const flush = setInterval(() => {
    if (batch.length === 0) return;
    post({ type: 'messages', batch });
    batch = [];
  }, 50);
  client.on('connect', () => {
    post({ type: 'status', connected: true });
    client.subscribe(config.topics, { qos: 0 }, (error, granted) => {
      const refused = granted?.filter((grant) => grant.qos === 128).map((grant) => grant.topic) ?? [];
      if (error || refused.length > 0) {
        post({
          type: 'status',
          connected: true,
          detail: `subscription refused: ${error?.message ?? refused.join(', ')}`,
        });
      } else post({ type: 'status', connected: true, subscribed: true });
    });
  });
  client.on('close', () => post({ type: 'status', connected: false }));
  client.on('error', (error) => post({ type: 'status', connected: false, detail: error.message }));
  client.on('message', (topic, payload) => {
    batch.push({ topic, payload: payload.toString('utf8') });
  });
  port.on('message', (request: DashboardClientRequest) => {
    if (request.type === 'publish') {
      const { id } = request;
      // Never queue a command for later: the dashboard says "sent" only for what the broker took now.
      if (!client.connected) {
        post({ type: 'published', id, error: 'the dashboard is not connected to the broker' });
        return;
      }
      client.publish(request.topic, request.payload, { qos: 1 }, (error) =>
        post({ type: 'published', id, ...(error && { error: error.message }) }),
      );
    }
    if (request.type === 'stop') {
      clearInterval(flush);
      client.end(true, () => process.exit(0));
    }
  });
}

if (parentPort) {
  main(parentPort, workerData.config as DashboardClientConfig).catch((error: Error) => {
    parentPort?.postMessage({
      type: 'status',
      connected: false,
      detail: error.message,
    } satisfies DashboardClientMessage);
  });
}
