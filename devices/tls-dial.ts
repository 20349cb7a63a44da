/**
 * Opens the TLS connection to the broker ourselves (MQTT.js then runs over it), so that each step of the handshake
 * ladder is observed and timed: TCP connect, the server's certificate, our verification of it, our certificate.
 */
import { isIP } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import {
  type Diagnosis,
  diagnoseCloseAfterHandshake,
  diagnoseClosedBeforeServerHello,
  diagnoseServerVerification,
  diagnoseSocketError,
} from './diagnosis.ts';
import type { AttemptRecorder } from './ladder.ts';
import type { DeviceTls } from './tls-context.ts';

export interface DialOptions {
  host: string;
  port: number;
  /** Name the broker certificate must carry; defaults to the host. */
  servername?: string;
  tls: DeviceTls;
  timeoutMs: number;
  recorder: AttemptRecorder;
  onTcpConnected?: () => void;
}

/** A connection attempt that failed, with the device's diagnosis. */
export class DialError extends Error {
  constructor(readonly diagnosis: Diagnosis) {
    super(diagnosis.detail);
  }
}

export function dialTls(options: DialOptions): Promise<TLSSocket> {
  const { recorder } = options;
  const name = options.servername ?? options.host;
  return new Promise((resolve, reject) => {
    let tcpConnected = false;
    let serverFinishedAt: number | undefined;
    let keysDerived = false;
    const socket = tls.connect({
      host: options.host,
      port: options.port,
      // SNI must not carry an IP address; the hostname check still uses `name`.
      ...(isIP(name) === 0 && { servername: name }),
      secureContext: options.tls.context(),
      // We verify the server ourselves below, so that the failure is attributed to step 3 with its reason.
      rejectUnauthorized: false,
      checkServerIdentity: serverIdentityCheck(name),
    });
    const fail = (diagnosis: Diagnosis) => {
      cleanup();
      socket.destroy();
      recorder.fail(diagnosis.step, diagnosis.reason, diagnosis.detail);
      reject(new DialError(diagnosis));
    };
    // Keys derived means our certificate went out: a reset or close now, without an alert, is the broker refusing
    // it. With TLS 1.2 a strict broker's close overtakes its own Finished, so the handshake never completes here.
    const refusedAfterOurCertificate = () =>
      diagnoseCloseAfterHandshake(recorder.localPort, Date.now() - (serverFinishedAt ?? Date.now()));
    const onError = (error: NodeJS.ErrnoException) => {
      const diagnosis = diagnoseSocketError(error, { tcpConnected, secureConnected: false });
      fail(!diagnosis.definitive && keysDerived ? refusedAfterOurCertificate() : diagnosis);
    };
    const onClose = () =>
      fail(
        keysDerived
          ? refusedAfterOurCertificate()
          : tcpConnected
            ? diagnoseClosedBeforeServerHello()
            : {
                reason: 'BROKER_UNREACHABLE',
                step: recorder.firstPending(),
                detail: 'the broker closed the connection during the TLS handshake',
                definitive: false,
              },
      );
    const onTimeout = () =>
      fail({
        reason: 'TIMEOUT',
        step: recorder.firstPending(),
        detail: `broker busy or unreachable: no answer within ${options.timeoutMs} ms`,
        definitive: false,
      });
    // TLS 1.3 derives the application secrets once the server's Certificate, CertificateVerify and Finished are in:
    // the moment the server has presented its certificate (step 2), before our verification of it (step 3).
    const onKeylog = (line: Buffer) => {
      const label = line.toString('latin1', 0, 24);
      if (label.startsWith('SERVER_TRAFFIC_SECRET_0') || label.startsWith('CLIENT_RANDOM')) {
        serverFinishedAt ??= Date.now();
        keysDerived = true;
      }
    };
    const cleanup = () => {
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.off('timeout', onTimeout);
      socket.off('keylog', onKeylog);
      socket.setTimeout(0);
    };
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.on('timeout', onTimeout);
    socket.on('keylog', onKeylog);
    socket.setTimeout(options.timeoutMs);
    socket.once('connect', () => {
      tcpConnected = true;
      recorder.localPort = socket.localPort;
      recorder.ok('tcp-connect');
      options.onTcpConnected?.();
    });
    socket.once('secureConnect', () => {
      const now = Date.now();
      recorder.tlsVersion = socket.getProtocol() ?? undefined;
      recorder.ok('server-certificate', serverFinishedAt ?? now);
      if (!socket.authorized) {
        fail(
          diagnoseServerVerification(String(socket.authorizationError ?? 'UNABLE_TO_VERIFY_LEAF_SIGNATURE')),
        );
        return;
      }
      recorder.ok('server-verified', now);
      // Our certificate went out in the client's final handshake flight; without one we sent an empty list.
      const expected = options.tls.leafFingerprint;
      if (expected) {
        const presented = socket.getCertificate();
        if (!presented || !('fingerprint256' in presented) || presented.fingerprint256 !== expected) {
          cleanup();
          socket.destroy();
          reject(new Error("bug: the connection carries another certificate than this device's own"));
          return;
        }
        recorder.ok('client-certificate', now);
      }
      cleanup();
      resolve(socket);
    });
  });
}

/**
 * The socket keeps its `checkServerIdentity` for as long as it lives. Built here, it holds only the name; built inside
 * dialTls it would hold the whole dial (its handlers, the options, the recorder) alive for every connected device.
 */
function serverIdentityCheck(name: string): NonNullable<tls.ConnectionOptions['checkServerIdentity']> {
  return (_host, cert) => tls.checkServerIdentity(name, cert);
}
