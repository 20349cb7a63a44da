/**
 * MQTT 5 session resumption, worked around in aedes 2.0.0-beta.1.
 *
 * A v5 client that connects with Clean Start 0 resumes its existing session [MQTT-3.1.2-5], whatever Session Expiry
 * it asks for this time: its subscriptions come back, and so must the messages queued for it while it was away
 * [MQTT-3.1.2-5, MQTT-4.4.0-1]. aedes restores the subscriptions (lib/handlers/connect.js fetchSubs/restoreSubs
 * look at Clean Start) but its emptyQueue step drops every queued message when `client.clean` is true — and for v5
 * it sets `client.clean = (Session Expiry Interval === 0)`, which describes the NEW session's lifetime, not whether
 * the old one is resumed. A client resuming without a Session Expiry of its own (the default, 0) therefore loses
 * everything queued for it (Paho's test_offline_message_queueing and test_publication_expiry).
 *
 * The fix: between aedes registering the resuming client ('client', emitted before the CONNACK and the queue
 * replay) and the end of its CONNECT ('clientReady'), `clean` is false, so the queue is delivered; then it is put
 * back, so the session still ends with the connection as asked (aedes wipes it at close by the expiry interval).
 * Nothing of the client's own is processed in that window: aedes holds its packets until the CONNECT is done.
 */
import type { Aedes, Client } from 'aedes';

/** The fields of aedes' client this relies on; its type declarations do not list them. */
type AedesClient = Client & { clean: boolean; _cleanStart?: boolean; version: number };

export function deliverQueuedOnResume(broker: Aedes): void {
  const resuming = new WeakSet<Client>();
  const restore = (client: Client) => {
    if (!resuming.delete(client)) return;
    (client as AedesClient).clean = true;
  };
  broker.on('client', (client) => {
    const c = client as AedesClient;
    // Only a v5 Clean Start 0 whose new session would end with the connection; any other case aedes gets right.
    if (c.version !== 5 || c._cleanStart !== false || c.clean !== true) return;
    resuming.add(client);
    c.clean = false;
  });
  broker.on('clientReady', restore);
  broker.on('clientDisconnect', restore);
}
