/**
 * Turns what a client can observe (TLS errors and alerts, a close after the handshake, CONNACK codes, a disconnect
 * after a publish, SUBACK 0x80) into the shared reason vocabulary and the ladder step that failed. When the client
 * cannot know the broker's reason it says so (CLOSED_BY_BROKER) and the local port joins it with the broker's audit.
 */
import { briefReason, isReason, type Reason, reasonFromVerifyCode } from '../core/reasons.ts';
import { type LadderStepName, stepForReason } from '../core/ladder.ts';

export interface Diagnosis {
  reason: Reason;
  step: LadderStepName;
  detail: string;
  /** A definitive rejection is never retried; anything else is transient and retried with backoff. */
  definitive: boolean;
  /**
   * Set when the observation is only probably definitive: a bare close right after the handshake (a TLS 1.3 refusal,
   * or a broker too busy to read our CONNECT in time) or right after a publish (a denial, or a session takeover).
   * The device rejects only when the same thing happens on several attempts in a row (device.ts VERDICT_AFTER).
   */
  confirmTwice?: 'after-handshake' | 'after-publish';
}

/** TLS alerts a server sends about our certificate (OpenSSL error codes as Node names them). */
const CLIENT_CERT_ALERTS: Record<string, { reason: Reason; words: string }> = {
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: {
    reason: 'NO_CERTIFICATE',
    words: 'alert 116 "certificate required"',
  },
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: { reason: 'NO_CERTIFICATE', words: 'alert 40 "handshake failure"' },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: {
    reason: 'EXPIRED',
    words: 'alert 45 "certificate expired" (OpenSSL also sends it for a certificate not yet valid)',
  },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED: { reason: 'REVOKED', words: 'alert 44 "certificate revoked"' },
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: { reason: 'UNKNOWN_CA', words: 'alert 48 "unknown CA"' },
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: {
    reason: 'WRONG_KEY_USAGE',
    words: 'alert 43 "unsupported certificate"',
  },
  ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR: { reason: 'KEY_MISMATCH', words: 'alert 51 "decrypt error"' },
};

/** Codes that mean the broker could not be reached at all (retried), in a few words. */
const UNREACHABLE_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
};

/**
 * Why a device is retrying, in a few words: its reason's, or for an unreachable broker the socket error's
 * ("connection refused": nobody listens there; "host name not found"), which the detail starts with (below).
 */
export function retryCause(reason: Reason, detail?: string): string {
  const code = reason === 'BROKER_UNREACHABLE' ? detail?.match(/^(E[A-Z_]+):/)?.[1] : undefined;
  return (code !== undefined && UNREACHABLE_CODES[code]) || briefReason(reason);
}

/** Loading our own key and certificate failed (before any byte was sent). */
export function diagnoseCredentialLoad(error: NodeJS.ErrnoException): Diagnosis {
  const code = error.code ?? '';
  if (code.includes('KEY_VALUES_MISMATCH') || /key values mismatch/i.test(error.message)) {
    return {
      reason: 'KEY_MISMATCH',
      step: 'client-certificate',
      detail:
        'the private key does not belong to the certificate: TLS refused to load the pair (KEY_VALUES_MISMATCH)',
      definitive: true,
    };
  }
  if (/md too weak|too small/i.test(error.message)) {
    return {
      reason: 'WEAK_SIGNATURE',
      step: 'client-certificate',
      detail: `our own TLS library refuses to present this certificate: ${error.message}`,
      definitive: true,
    };
  }
  return {
    reason: 'KEY_MISMATCH',
    step: 'client-certificate',
    detail: `the client certificate or key could not be loaded: ${error.message}`,
    definitive: true,
  };
}

/** The server's certificate did not pass our check (step 3). `code` is socket.authorizationError. */
export function diagnoseServerVerification(code: string): Diagnosis {
  const reason =
    reasonFromVerifyCode(code) === 'HOSTNAME_MISMATCH' ? 'HOSTNAME_MISMATCH' : 'SERVER_UNTRUSTED';
  const detail =
    reason === 'HOSTNAME_MISMATCH'
      ? `the broker certificate does not name the host we connected to (${code})`
      : `the broker certificate does not chain to the trusted CA (${code}): refusing to talk to it`;
  return { reason, step: 'server-verified', detail, definitive: true };
}

/** A socket error, before or after our side of the handshake completed. */
export function diagnoseSocketError(
  error: NodeJS.ErrnoException,
  phase: { tcpConnected: boolean; secureConnected: boolean },
): Diagnosis {
  const code = error.code ?? '';
  const alert = CLIENT_CERT_ALERTS[code];
  if (alert) {
    return {
      reason: alert.reason,
      step: stepForReason(alert.reason),
      detail: `the broker refused our certificate with TLS ${alert.words}`,
      definitive: true,
    };
  }
  if (code === 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE') {
    return {
      reason: 'CLOSED_BY_BROKER',
      step: 'client-verified',
      detail:
        'the broker refused our certificate with TLS alert 42 "bad certificate" (the broker audit has why)',
      definitive: true,
    };
  }
  if (!phase.tcpConnected || Object.hasOwn(UNREACHABLE_CODES, code)) {
    return {
      reason: 'BROKER_UNREACHABLE',
      step: 'tcp-connect',
      detail: `${code || 'error'}: ${error.message}`,
      definitive: false,
    };
  }
  if (code === 'ETIMEDOUT') {
    return { reason: 'TIMEOUT', step: 'tcp-connect', detail: error.message, definitive: false };
  }
  if (!phase.secureConnected && (code === 'ECONNRESET' || code === 'EPIPE')) {
    return diagnoseClosedBeforeServerHello(code);
  }
  if (code.startsWith('ERR_SSL') && !phase.secureConnected) {
    return {
      reason: 'PROTOCOL_ERROR',
      step: 'server-certificate',
      detail: `the TLS handshake failed: ${code}`,
      definitive: false,
    };
  }
  return {
    reason: 'CLOSED_BY_BROKER',
    step: phase.secureConnected ? 'client-verified' : 'server-certificate',
    detail: `the connection failed: ${code || error.message}`,
    definitive: false,
  };
}

/**
 * How soon a refusal follows our certificate: a broker decides the moment it reads it (milliseconds, plus its
 * event-loop lag). A bare close later than this is a broker that gave up on us — its handshake or CONNECT deadline
 * ran out while it was overloaded — and says nothing about our certificate.
 */
export const PROMPT_REFUSAL_MS = 1_000;

/**
 * The broker closed the connection after our certificate went out, before any CONNACK: with TLS 1.3 this is how a
 * server refuses a client certificate without an alert — when it comes promptly. `waitedMs` is the time since our
 * certificate went out; later than PROMPT_REFUSAL_MS it is a busy broker, retried like any other (no strike).
 */
export function diagnoseCloseAfterHandshake(localPort: number | undefined, waitedMs = 0): Diagnosis {
  if (waitedMs > PROMPT_REFUSAL_MS) {
    return {
      reason: 'BROKER_BUSY',
      step: 'client-verified',
      detail:
        `broker busy: it closed the connection ${(waitedMs / 1000).toFixed(1)} s after our certificate went out, ` +
        'without a reason — a deadline that ran out under load, not a refusal of our certificate',
      definitive: false,
    };
  }
  return {
    reason: 'CLOSED_BY_BROKER',
    step: 'client-verified',
    detail:
      'the broker closed the connection right after the TLS handshake, before CONNACK; it most likely refused ' +
      `our certificate (the broker audit has the reason${localPort ? `, local port ${localPort}` : ''})`,
    definitive: true,
    confirmTwice: 'after-handshake',
  };
}

/** The broker closed or reset the connection before its certificate reached us: it is busy or at a limit. */
export function diagnoseClosedBeforeServerHello(code?: string): Diagnosis {
  return {
    reason: 'BROKER_BUSY',
    step: 'server-certificate',
    detail: `broker busy or at a connection limit: it ${code ? `reset the connection (${code})` : 'closed the connection'} before answering our TLS hello`,
    definitive: false,
  };
}

/**
 * An MQTT 5 Reason String that starts with a reason of our vocabulary (`EXPIRED: certificate expired 2026-11-29`,
 * as certfleet's broker writes them): the reason, straight from the broker.
 */
export function reasonFromReasonString(text: string | undefined): Reason | undefined {
  const code = text?.match(/^([A-Z_]+)(?::|$)/)?.[1];
  return code !== undefined && isReason(code) ? code : undefined;
}

/** MQTT 5 §3.14.2.1: another connection with the same client id took the session over [MQTT-3.1.4-2]. */
const SESSION_TAKEN_OVER_CODE = 0x8e;

/**
 * A DISCONNECT the broker sent with a reason code ≥ 0x80 (MQTT 5 §3.14.2.1), e.g. 0x98 on revocation, or 0x8E when
 * another connection took our session over with `clientId` (someone running `mosquitto_pub -i <our id>`): retried.
 */
export function diagnoseDisconnect(
  reasonCode: number,
  reasonString: string | undefined,
  clientId?: string,
): Diagnosis {
  const named = reasonFromReasonString(reasonString);
  if (!named && reasonCode === SESSION_TAKEN_OVER_CODE) {
    const by = clientId === undefined ? 'the same client id' : `client id ${clientId}`;
    return {
      reason: 'SESSION_TAKEN_OVER',
      step: 'messages-flow',
      detail: `taken over: another connection used ${by} (DISCONNECT 0x8e Session taken over)`,
      definitive: false,
    };
  }
  const reason = named ?? 'CLOSED_BY_BROKER';
  const hex = `0x${reasonCode.toString(16)}`;
  return {
    reason,
    step: 'messages-flow', // the only step that can fail after it worked: the ladder shows it there
    detail: `DISCONNECT ${hex}${reasonString ? `: ${reasonString}` : ''}`,
    definitive: reason !== 'CLOSED_BY_BROKER' && reason !== 'SERVER_SHUTDOWN',
  };
}

/**
 * CONNACK return codes of MQTT 3.1.1 [MQTT-3.2.2.3], and MQTT 5 reason codes ≥ 0x80 (§3.2.2.2), whose Reason
 * String — when the broker names one of our reasons — says directly why (ladder steps 5/6).
 */
export function diagnoseConnack(
  returnCode: number,
  localPort: number | undefined,
  reasonString?: string,
): Diagnosis {
  const port = localPort ? ` (local port ${localPort} joins it with the broker audit)` : '';
  const named = reasonFromReasonString(reasonString);
  if (returnCode >= 0x80) {
    const hex = `CONNACK 0x${returnCode.toString(16)}`;
    if (named) {
      return {
        reason: named,
        step: stepForReason(named),
        detail: `${hex}: ${reasonString}`,
        definitive: true,
      };
    }
    return {
      reason: returnCode === 0x88 || returnCode === 0x89 ? 'SERVER_SHUTDOWN' : 'CLOSED_BY_BROKER',
      step: 'access-granted',
      detail: `${hex}${reasonString ? `: ${reasonString}` : ''}; the broker audit has why${port}`,
      definitive: returnCode !== 0x88 && returnCode !== 0x89 && returnCode !== 0x9f,
    };
  }
  switch (returnCode) {
    case 1:
      return {
        reason: 'PROTOCOL_ERROR',
        step: 'access-granted',
        detail: 'CONNACK 1: unacceptable protocol version',
        definitive: true,
      };
    case 2:
      return {
        reason: 'CLIENT_ID_MISMATCH',
        step: 'access-granted',
        detail: `CONNACK 2: the broker rejected our client identifier${port}`,
        definitive: true,
      };
    case 3:
      return {
        reason: 'SERVER_SHUTDOWN',
        step: 'access-granted',
        detail: 'CONNACK 3: server unavailable',
        definitive: false,
      };
    case 4:
    case 5:
      return {
        reason: 'CLOSED_BY_BROKER',
        step: 'access-granted',
        detail: `CONNACK ${returnCode}: not authorized; the broker audit has why${port}`,
        definitive: true,
      };
    default:
      return {
        reason: 'PROTOCOL_ERROR',
        step: 'access-granted',
        detail: `CONNACK with unknown return code ${returnCode}`,
        definitive: true,
      };
  }
}
