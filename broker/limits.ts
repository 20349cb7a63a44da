/** Broker limits: every one has a default a device fleet on one machine never reaches, and a CLI flag. */
export interface BrokerLimits {
  /** Largest MQTT packet accepted, in bytes (fixed header included); larger closes the connection. */
  maxPacketSize: number;
  /** Open TCP connections; more are dropped before the TLS handshake. */
  maxConnections: number;
  /** Time for the TLS handshake, ms, from the TCP connection (absolute: trickling bytes does not extend it). */
  handshakeTimeoutMs: number;
  /**
   * Connections handshaking at once, at most (fewer while the event loop lags: admission.ts). Past it a new connection
   * takes the slot of a peer silent for half the handshake timeout, or is closed before TLS (BROKER_BUSY).
   */
  maxHandshakes: number;
  /** Connections handshaking at once from one address; more are closed. */
  maxHandshakesPerAddress: number;
  /** New connections per second from one address (bursts of twice that); more are closed before TLS. 0 = none. */
  connectionRatePerAddress: number;
  /** Connections per second of one certificate identity (bursts of twice that); more are refused. 0 = none. */
  connectionRatePerIdentity: number;
  /** Refused peers (no or bad certificate) kept to answer their CONNECT with CONNACK 5; more are closed at once. */
  maxRefusedPending: number;
  /** Time between the handshake and the MQTT CONNECT, ms. */
  connectTimeoutMs: number;
  /** Largest keepalive a client may ask for, s (0 in CONNECT is refused too when this is set). */
  keepaliveLimit: number;
  /** Most levels in a topic or topic filter. */
  maxTopicLevels: number;
  /** Bytes waiting to be sent to one client; past it the client is cut as SLOW_CONSUMER. */
  maxOutboundBuffer: number;
  /** Longest MQTT client id accepted, in characters. */
  maxClientIdLength: number;
  /** Subscriptions one client may hold; one more disconnects it (LIMIT_EXCEEDED). */
  maxSubscriptionsPerClient: number;
  /** Topics holding a retained message, broker-wide; a retained publish to a new topic past it is refused. */
  maxRetainedMessages: number;
  /** Largest retained message payload, in bytes. */
  maxRetainedSize: number;
  /** Inbound QoS 2 messages of one client awaiting PUBREL; one more disconnects it. */
  maxInflightInbound: number;
  /** Messages queued for delivery broker-wide; past it publishers are paused until half are delivered. */
  maxQueuedMessages: number;
}

export const DEFAULT_LIMITS: BrokerLimits = {
  maxPacketSize: 256 * 1024,
  maxConnections: 10_000,
  handshakeTimeoutMs: 10_000,
  maxHandshakes: 2048,
  maxHandshakesPerAddress: 1024,
  connectionRatePerAddress: 500,
  connectionRatePerIdentity: 10,
  maxRefusedPending: 64,
  connectTimeoutMs: 10_000,
  keepaliveLimit: 600,
  maxTopicLevels: 16,
  maxOutboundBuffer: 2 * 1024 * 1024,
  maxClientIdLength: 128,
  maxSubscriptionsPerClient: 100,
  maxRetainedMessages: 10_000,
  maxRetainedSize: 64 * 1024,
  maxInflightInbound: 100,
  maxQueuedMessages: 1000,
};
