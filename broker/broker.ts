/**
 * startBroker: Aedes behind a TLS server that requires a client certificate from our CA.
 *
 * The gate: the TLS server runs with rejectUnauthorized: false so that it can see, audit and answer a refused
 * certificate — and for exactly that reason the only path to `aedes.handle()` is `socket.authorized === true`.
 */
import { Aedes, type Client } from 'aedes';
import { constants, X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls, { type TLSSocket } from 'node:tls';
import { UserError } from '../core/user-error.ts';
import { isClaimCn, loadTrustMaterial, pkiLayout, refreshCrlsIfDue } from '../pki/index.ts';
import { AuditLog } from './audit-log.ts';
import type { ClusterParts } from './cluster/index.ts';
import { AUDIT_TOPIC, type AuditRecord } from './audit-record.ts';
import {
  auditBase,
  type ConnectionInfo,
  createAuthorization,
  DISCONNECT_ADMINISTRATIVE_ACTION,
  endSession,
} from './authorization.ts';
import { CrlGuard } from './crl-guard.ts';
import { revocationKey, type CrlState } from './crl-watch.ts';
import { DEFAULT_LIMITS, type BrokerLimits } from './limits.ts';
import { admitConnections } from './admission.ts';
import { guardEmitter } from './emitter-guard.ts';
import { RateLimiter } from './rate-limit.ts';
import { aggregateRefusals } from './refusal-aggregate.ts';
import { outboundOverLimit, raiseWriteHighWaterMark } from './outbound-limit.ts';
import { coalesceWrites } from './write-coalescing.ts';
import { guardPacketSize } from './packet-size-guard.ts';
import {
  allowTopicAliases,
  fitsClient,
  windowDeliveries,
  withSubscriptionIdentifiers,
  withTopicAlias,
} from './mqtt5-outbound.ts';
import { announcedReceiveMaximum, type InflightBroker, limitSessions } from './session-limits.ts';
import { sanitizeRecord } from './untrusted-text.ts';
import { loadPolicy } from './policy-load.ts';
import { applyPolicyToSessions, PolicyWatcher } from './policy-watch.ts';
import { refusalReasonString } from './refused-connect.ts';
import { handshakeErrorReason } from './tls-refusal.ts';
import { type GateContext, gateConnection } from './tls-gate.ts';
import { watchSessionEnds } from './session-ends.ts';
import { deliverQueuedOnResume } from './session-resume.ts';
import { type ConnackFirst, connackFirst } from './connack-first.ts';
import { keepPubrelsApart } from './pubrel-store.ts';
import { cutSessionsAtExpiry } from './expiry-cut.ts';
import { type EnrollmentService, startEnrollment } from './enrollment/service.ts';

export interface BrokerOptions {
  stateDir: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8883; 0 picks a free port (read it back from `port`). */
  port?: number;
  /** Default `<stateDir>/policy.yaml`. */
  policyFile?: string;
  /** Close right after a refused handshake instead of answering the CONNECT with CONNACK 5. */
  strict?: boolean;
  limits?: Partial<BrokerLimits>;
  /** Default `<stateDir>/audit.jsonl`. */
  auditFile?: string;
  /** How often the CRL file is polled besides fs.watch, ms. */
  crlPollMs?: number;
  /**
   * Benchmarks only (bench/throughput.ts): `false` skips the per-message policy checks — publish, subscribe and
   * delivery — to measure what they cost. The TLS gate and the CONNECT decision stay. Default true.
   */
  authorization?: boolean;
  /** Run as a node of a cluster on Redis (broker/cluster/createClusterParts); the broker closes the parts. */
  cluster?: ClusterParts;
}

export interface RunningBroker {
  readonly host: string;
  readonly port: number;
  /** `mqtts://host:port` */
  readonly url: string;
  readonly auditFile: string;
  readonly limits: BrokerLimits;
  /** Number of MQTT sessions open now. */
  sessionCount(): number;
  on(event: 'audit', listener: (record: AuditRecord) => void): this;
  on(event: 'warning', listener: (error: Error) => void): this;
  off(event: 'audit' | 'warning', listener: (...args: never[]) => void): this;
  /** Stop accepting, close every client (audited as SERVER_SHUTDOWN), flush the audit. Idempotent. */
  close(): Promise<void>;
}

const HOUR = 3_600_000;

/**
 * Records written with the turn's one write (AuditLog.appendInTurn): an acceptance, whose CONNACK leaves only in a
 * later immediate (write-coalescing.ts), and an end already over. Everything else acts right after it is recorded.
 */
const IN_TURN_EVENTS: ReadonlySet<string> = new Set(['connection-accepted', 'disconnected']);

export async function startBroker(options: BrokerOptions): Promise<RunningBroker> {
  const layout = pkiLayout(options.stateDir);
  const host = options.host ?? '127.0.0.1';
  const limits: BrokerLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const trust = await loadTrustMaterial(options.stateDir); // first: a missing PKI says what to run
  const policyFile = options.policyFile ?? layout.policy;
  let policy = await loadPolicy(policyFile);
  const issuers = await readCertificates(layout.caBundle);
  // A verified CRL or none: a bad bundle falls back to the last good one, else the broker does not start (crl-guard.ts).
  const crlGuard = await CrlGuard.open(options.stateDir, issuers);
  let crl: CrlState = crlGuard.state;

  const events = new EventEmitter();
  const auditFile = options.auditFile ?? join(options.stateDir, 'audit.jsonl');
  let aedes: Aedes | null = null;
  // Told of a record once it is in the file, never before (audit-log.ts): the 'audit' event and the audit feed.
  const auditLog = new AuditLog(auditFile, (record, json) => {
    events.emit('audit', record);
    if (aedes && !aedes.closed) {
      const payload = Buffer.from(json);
      aedes.publish(
        { cmd: 'publish', topic: AUDIT_TOPIC, payload, qos: 0, retain: false, dup: false },
        () => {},
      );
    }
  });
  const record = (partial: Omit<AuditRecord, 'ts'>) => {
    // Peer-chosen strings capped and escaped once, here, for every reader (untrusted-text.ts).
    const node = options.cluster?.nodeId;
    const record = {
      ts: new Date().toISOString(),
      ...(node && { node }),
      ...sanitizeRecord(partial),
    } as AuditRecord;
    // The two records of every connection share one write per loop turn; every other decision is written at once.
    if (IN_TURN_EVENTS.has(record.event)) auditLog.appendInTurn(record);
    else auditLog.append(record);
  };
  // Refusals from one address are aggregated past the first few (refusal-aggregate.ts): floods stay bounded.
  const refusals = aggregateRefusals(record);
  const audit = (partial: Omit<AuditRecord, 'ts'>) =>
    partial.event === 'handshake-refused' || partial.event === 'connect-refused'
      ? refusals.add(partial)
      : record(partial);
  const warn = (error: Error) => events.emit('warning', error);

  const infos = new WeakMap<object, ConnectionInfo>();
  let enrollment: EnrollmentService | undefined; // started once aedes exists; rotation lineage for revocation
  const authorization = createAuthorization({
    policy: () => policy,
    revoked: () => crl.revoked,
    limits,
    infoOf: (client: Client) => infos.get(client.conn),
    audit,
    revokedPredecessor: (cert) =>
      enrollment?.revokedPredecessor(cert.serial, (serial) =>
        crl.revoked.has(revocationKey(cert.issuer, serial)),
      ) ?? null,
    clientIdAllowed: (cn, clientId) =>
      clientId.startsWith(`${cn}:`) && clientId.length > cn.length + 1 && isClaimCn(options.stateDir, cn),
  });
  const { sessions } = authorization;
  const { preConnect, authenticate, authorizePublish, authorizeSubscribe, authorizeForward } = authorization;
  const checkPolicy = options.authorization !== false;
  // A subscriber that does not read is cut before its buffer passes the limit (outbound-limit.ts), and it is
  // checked here, at every delivery, before aedes writes anything to it.
  const forwardable: typeof authorizeForward = (client, packet) => {
    const waiting = outboundOverLimit(client, limits.maxOutboundBuffer);
    if (waiting !== null) {
      cutSlowConsumer(client, waiting);
      return null;
    }
    if (!fitsClient(client, packet)) return null; // larger than the client's Maximum Packet Size (mqtt5-outbound.ts)
    const allowed = checkPolicy ? authorizeForward(client, packet) : packet;
    return allowed ? withSubscriptionIdentifiers(client, allowed) : allowed;
  };
  // The topic alias comes last, once per delivery aedes then writes (windowDeliveries asks `forwardable` alone).
  const forward: typeof authorizeForward = (client, packet) => {
    const allowed = forwardable(client, packet);
    return allowed ? withTopicAlias(client, allowed) : allowed;
  };
  const bounded = limitSessions(
    {
      preConnect,
      authorizePublish: checkPolicy ? authorizePublish : (_client, _packet, callback) => callback(null),
      authorizeSubscribe: checkPolicy ? authorizeSubscribe : (_client, sub, callback) => callback(null, sub),
    },
    { limits, sessions, infoOf: (client: Client) => infos.get(client.conn), audit },
  );
  const publish: typeof authorizePublish = (client, packet, callback) => {
    if (client) emitter.throttle(client); // a publisher outrunning delivery waits (emitter-guard.ts)
    bounded.authorizePublish(client, packet, callback);
  };
  // The acceptance is recorded the moment it is decided, before the CONNACK (session-ends.ts).
  const recordAcceptance: typeof authenticate = (client, username, password, done) =>
    authenticate(client, username, password, (error, granted) => {
      if (!error && granted) sessionRecords.accepted(client);
      done(error, granted);
    });
  let heldUntilConnack: ConnackFirst | null = null; // set once aedes exists, before any CONNECT
  aedes = await Aedes.createBroker({
    connectTimeout: limits.connectTimeoutMs,
    maxTopicLevels: limits.maxTopicLevels,
    maxClientsIdLength: limits.maxClientIdLength,
    // MQTT 5 CONNACK Receive Maximum: the inbound QoS 2 window session-limits.ts enforces (DISCONNECT 0x93 past it).
    receiveMaximum: announcedReceiveMaximum(limits),
    ...options.cluster?.aedesOptions,
    authenticate: options.cluster?.guardAuthenticate(recordAcceptance) ?? recordAcceptance,
    preConnect(client, packet, callback) {
      // the client's Receive Maximum bounds what is sent to it (mqtt5-outbound.ts)
      allowTopicAliases(client, packet);
      windowDeliveries(client, packet, {
        forward: forwardable,
        maxHeldBytes: limits.maxOutboundBuffer,
        onOverflow: cutSlowConsumer,
      });
      // a resumed session's deliveries wait for its CONNACK [MQTT-3.2.0-1] (connack-first.ts)
      heldUntilConnack?.hold(client, packet);
      bounded.preConnect(client, packet, callback);
    },
    authorizeSubscribe: bounded.authorizeSubscribe,
    authorizePublish: publish,
    authorizeForward: forward,
  });
  const broker = aedes;
  bounded.watchInflight(broker as unknown as InflightBroker);
  const emitter = guardEmitter((broker as unknown as { mq: unknown }).mq, limits.maxQueuedMessages);
  (broker as unknown as EventEmitter).on('error', warn); // untyped in aedes, but emitted: always listen
  const cutSlowConsumer = (client: Client, waiting: number) => {
    const session = sessions.get(client);
    if (session) {
      if (session.cause) return; // already being closed
      session.cause = 'SLOW_CONSUMER';
      session.detail = `outbound buffer ${waiting} bytes over the limit of ${limits.maxOutboundBuffer}: the client is not reading`;
    }
    client.conn.destroy();
  };
  const sessionRecords = watchSessionEnds(broker, authorization, (client) => infos.get(client.conn), audit);
  cutSessionsAtExpiry(broker, authorization, audit);
  deliverQueuedOnResume(broker); // an aedes 2.0.0-beta.1 bug (session-resume.ts)
  // an aedes-persistence bug: the memory store mixes up queued QoS 2 PUBRELs (pubrel-store.ts); Redis keys them right
  if (!options.cluster) keepPubrelsApart(broker);
  heldUntilConnack = connackFirst(broker, limits.maxOutboundBuffer, cutSlowConsumer);
  enrollment = await startEnrollment(broker, authorization, audit, { stateDir: options.stateDir });

  const tlsOptions: tls.SecureContextOptions = {
    ca: trust.ca,
    crl: crl.crls,
    cert: trust.serverCert,
    key: trust.serverKey,
    minVersion: 'TLSv1.2',
    // No session tickets: a resumed session skips certificate verification, so a device revoked since could come
    // back on an old ticket; and OpenSSL 3 builds each of its two stateless tickets by re-encoding and re-parsing
    // the session with the client's certificate: `perf` showed ticket work as the largest item after the handshake
    // itself, and broker CPU per connection fell from 8.3 to 4.6 ms without it (BENCHMARKS.md).
    // Under TLS 1.3 OpenSSL still sends two tickets, stateful ones (bare session ids: Node 20 cannot set their number
    // to 0), but nothing keeps the sessions they name, so offering one gets a full handshake with every check
    // (test/integration/broker-tls-resumption.test.ts). bench/servers/bare-tls.ts uses the same setting.
    secureOptions: constants.SSL_OP_NO_TICKET,
  };
  const server = tls.createServer({
    ...tlsOptions,
    requestCert: true,
    rejectUnauthorized: false, // we decide, and audit, below — never aedes
    handshakeTimeout: limits.handshakeTimeoutMs,
  });
  server.maxConnections = limits.maxConnections;
  let connections = 0;
  const admission = admitConnections(server, limits, ({ reason, peer, detail }) =>
    audit({ event: 'handshake-refused', reason, connection: ++connections, peer, detail }),
  );
  const identityRate = new RateLimiter(
    limits.connectionRatePerIdentity,
    limits.connectionRatePerIdentity * 2,
  );
  const refusedWaiting = { count: 0 };
  // Every TCP connection, handshaking or not, so that shutdown does not wait on a slow or silent peer.
  const openSockets = new Set<Socket>();
  server.on('connection', (raw: Socket) => {
    openSockets.add(raw);
    raw.once('close', () => openSockets.delete(raw));
  });

  // A verified connection past its limit (packet-size-guard.ts): recorded on its session, or refused before one.
  const cutOversized = (detail: string, verified: TLSSocket) => {
    const info = infos.get(verified);
    const session = info && [...sessions.values()].find((s) => s.info === info);
    if (session) {
      session.cause ??= 'LIMIT_EXCEEDED';
      session.detail ??= detail;
    } else if (info && !info.settled) {
      info.settled = true;
      audit({
        event: 'connect-refused',
        reason: 'LIMIT_EXCEEDED',
        ...auditBase(info),
        cert: info.cert,
        detail,
      });
    }
    verified.destroy();
  };
  function verifiedClosed(this: TLSSocket) {
    const info = infos.get(this);
    if (info) sessionRecords.closed(info);
  }
  // One gate context and one set of listeners for every connection: each held connection carries only its own
  // state (built per connection, the context and its closures lived as long as the socket).
  const gate: GateContext = {
    strict: options.strict === true,
    limits,
    issuers,
    nextConnection: () => ++connections,
    identityRate: (cn) => identityRate.take(cn),
    refusedWaiting,
    audit,
    admit(verified, info) {
      infos.set(verified, info);
      verified.on('close', verifiedClosed); // 'close' comes once
      raiseWriteHighWaterMark(verified, limits.maxOutboundBuffer);
      coalesceWrites(verified);
      guardPacketSize(verified, limits.maxPacketSize, cutOversized);
      broker.handle(verified);
    },
  };
  server.on('secureConnection', (socket: TLSSocket) => {
    admission.handshakeDone(socket);
    gateConnection(socket, gate);
  });

  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
    const cutByAdmission = admission.handshakeDone(socket);
    socket.destroy(); // Node leaves the socket open once this event has a listener
    if (cutByAdmission) return; // admission closed it and said why: this error is only the echo
    const peer = { address: socket.remoteAddress ?? '?', port: socket.remotePort ?? 0 };
    const reason = handshakeErrorReason(error);
    audit({
      event: 'handshake-refused',
      reason,
      connection: ++connections,
      peer,
      detail: error.code ?? error.message,
    });
  });
  server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => {
    const peer = { address: data?.remoteAddress ?? '?', port: data?.remotePort ?? 0 };
    const detail = `max connections (${limits.maxConnections}) reached`;
    audit({ event: 'handshake-refused', reason: 'LIMIT_EXCEEDED', connection: ++connections, peer, detail });
  });

  await listen(server, host, options.port ?? 8883).catch((error) => {
    auditLog.close();
    broker.close();
    throw error;
  });
  const port = (server.address() as { port: number }).port;

  const cutRevoked = (state: CrlState) => {
    crl = state;
    server.setSecureContext({ ...tlsOptions, crl: state.crls }); // new handshakes check the new CRL
    audit({ event: 'crl-reloaded', reason: 'OK', detail: `${state.revoked.size} serial(s) revoked` });
    for (const session of sessions.values()) {
      const key = revocationKey(session.info.cert.issuer, session.info.cert.serial);
      // Every open connection of the certificate, whatever else was recorded about it (a takeover mark, a cause
      // set on a connection still open): only one already cut for revocation, or closed, is skipped.
      const { issuer, serial } = session.info.cert;
      const predecessor = state.revoked.has(key)
        ? null
        : (enrollment?.revokedPredecessor(serial, (s) => state.revoked.has(revocationKey(issuer, s))) ??
          null);
      if ((!state.revoked.has(key) && !predecessor) || session.cause === 'REVOKED' || session.client.closed)
        continue;
      session.cause = 'REVOKED';
      session.detail = predecessor
        ? `serial ${serial} renewed certificate ${predecessor}, which is now in the CRL`
        : `serial ${serial} of ${issuer} is now in the CRL`;
      audit({
        event: 'revoked-session-closed',
        reason: 'REVOKED',
        ...auditBase(session.info, session.clientId),
        cert: session.info.cert,
        detail: session.detail,
      });
      const text = refusalReasonString({
        reason: 'REVOKED',
        detail: session.detail,
        cert: session.info.cert,
      });
      endSession(session, DISCONNECT_ADMINISTRATIVE_ACTION, text);
    }
  };
  const onCrlFile = (state: CrlState) => {
    cutRevoked(state);
    options.cluster?.crlChanged(state.pem);
  };
  const watcher = crlGuard.watch({ onChange: onCrlFile, audit, warn, pollMs: options.crlPollMs });
  await watcher.start();
  // A new policy — this node's file edited, or a verified one from the cluster — is in force for new CONNECTs at
  // once and re-judges every open session (policy-watch.ts).
  const applyPolicy = (next: typeof policy, from: string) => {
    policy = next;
    const { closed, narrowed } = applyPolicyToSessions(next, sessions.values(), audit);
    audit({
      event: 'policy-reloaded',
      reason: 'OK',
      detail: `${from}: ${closed} session(s) closed, ${narrowed} narrowed`,
    });
  };
  const policyWatcher = new PolicyWatcher(
    policyFile,
    (next, text) => {
      // Nodes sharing this file (`--workers`, or one state dir) each read the edit; one that heard it from another
      // through the cluster before its own poll has it in force already: applying it again re-judged every session
      // and audited a second reload for one edit (seen in broker-cluster-policy under load).
      if (options.cluster?.policyInForce(text)) return;
      applyPolicy(next, policyFile);
      options.cluster?.policyChanged(text);
    },
    (problem) => audit({ event: 'policy-rejected', reason: 'POLICY_INVALID', detail: problem }),
    options.crlPollMs,
  );
  await policyWatcher.start();
  const infoOf = (client: Client) => infos.get(client.conn);
  await options.cluster?.attach({
    issuers,
    current: () => crl,
    apply: cutRevoked,
    localYaml: await readFile(policyFile, 'utf8'),
    signer: { certPem: trust.serverCert, keyPem: trust.serverKey },
    applyPolicy,
    audit,
    warn,
    infoOf,
  });
  const refresh = setInterval(() => void refreshCrlsIfDue(options.stateDir).catch(warn), HOUR);
  refresh.unref();

  const url = `mqtts://${host.includes(':') ? `[${host}]` : host}:${port}`;
  audit({ event: 'broker-started', reason: 'OK', detail: `${url} policy=${policy.source}` });

  let closing: Promise<void> | null = null;
  const running = Object.assign(events, {
    host,
    port,
    url,
    auditFile,
    limits,
    sessionCount: () => sessions.size,
    close(): Promise<void> {
      closing ??= (async () => {
        clearInterval(refresh);
        watcher.stop();
        policyWatcher.stop();
        enrollment?.close();
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const session of sessions.values()) session.cause ??= 'SERVER_SHUTDOWN';
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        admission.shutdown(); // mid-handshake: audited SERVER_SHUTDOWN
        for (const socket of openSockets) socket.destroy(); // refused and awaiting CONNECT
        await stopped;
        refusals.flush();
        audit({ event: 'broker-stopped', reason: 'OK' });
        auditLog.close();
        await options.cluster?.close();
      })();
      return closing;
    },
  });
  watcher.announce(); // a CRL problem found at start is said once the caller can hear it
  return running as unknown as RunningBroker;
}

async function readCertificates(path: string): Promise<X509Certificate[]> {
  const pem = await readFile(path, 'utf8');
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map(
    (block) => new X509Certificate(block),
  );
}

function listen(server: tls.Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        reject(
          new UserError(
            'cannot start the broker',
            `port ${port} on ${host} is in use`,
            'Pick another with --port (0 = any free port).',
          ),
        );
      } else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') {
        reject(
          new UserError(
            'cannot start the broker',
            `${host} is not an address of this machine`,
            'Use --host 127.0.0.1.',
          ),
        );
      } else {
        reject(error);
      }
    });
    // A deep accept queue: under a connection flood the kernel would otherwise drop SYNs — a real device's among
    // them — instead of letting admission.ts evict the oldest pending handshake.
    server.listen(port, host, 4096, () => resolve());
  });
}
