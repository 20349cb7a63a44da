import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  diagnoseCloseAfterHandshake,
  diagnoseConnack,
  diagnoseCredentialLoad,
  diagnoseDisconnect,
  diagnoseServerVerification,
  diagnoseSocketError,
} from '../../devices/diagnosis.ts';
import { stepForReason } from '../../core/ladder.ts';
import { parseAuditRecord } from '../../core/audit.ts';
import {
  AuditExplainer,
  auditFileExplainer,
  explainOnDialledNode,
  findRefusal,
  refineAttempt,
} from '../../devices/explain.ts';
import { AttemptRecorder } from '../../devices/ladder.ts';

const error = (code: string, message = code) => Object.assign(new Error(message), { code });
const afterHandshake = { tcpConnected: true, secureConnected: true };

describe('diagnosis: what the client observes → reason and ladder step', () => {
  it.each([
    ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'NO_CERTIFICATE', 'client-certificate'],
    ['ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'EXPIRED', 'client-verified'],
    ['ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED', 'REVOKED', 'client-verified'],
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'UNKNOWN_CA', 'client-verified'],
    ['ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE', 'WRONG_KEY_USAGE', 'client-verified'],
    ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'CLOSED_BY_BROKER', 'client-verified'],
  ])('TLS alert %s → %s at %s, never retried', (code, reason, step) => {
    expect(diagnoseSocketError(error(code), afterHandshake)).toMatchObject({
      reason,
      step,
      definitive: true,
    });
  });

  it('an unreachable broker is transient, at step 1', () => {
    expect(
      diagnoseSocketError(error('ECONNREFUSED'), { tcpConnected: false, secureConnected: false }),
    ).toMatchObject({ reason: 'BROKER_UNREACHABLE', step: 'tcp-connect', definitive: false });
  });

  it('a close right after the handshake says honestly that only the broker knows, with the local port', () => {
    const diagnosis = diagnoseCloseAfterHandshake(50123);
    expect(diagnosis).toMatchObject({
      reason: 'CLOSED_BY_BROKER',
      step: 'client-verified',
      definitive: true,
      confirmTwice: 'after-handshake', // ambiguous alone (a busy broker can hang up too): seen twice to reject
    });
    expect(diagnosis.detail).toContain('50123');
  });

  it('a bare close long after our certificate went out is a busy broker, retried without a strike', () => {
    expect(diagnoseCloseAfterHandshake(50123, 1_000)).toMatchObject({
      reason: 'CLOSED_BY_BROKER',
      definitive: true,
    });
    const late = diagnoseCloseAfterHandshake(50123, 9_800);
    expect(late).toMatchObject({ reason: 'BROKER_BUSY', step: 'client-verified', definitive: false });
    expect(late.confirmTwice).toBeUndefined();
    expect(late.detail).toMatch(
      /^broker busy: it closed the connection 9\.8 s after our certificate went out/,
    );
  });

  it('a reset before the server answered our hello is a busy broker (closed before TLS), retried', () => {
    expect(
      diagnoseSocketError(error('ECONNRESET'), { tcpConnected: true, secureConnected: false }),
    ).toMatchObject({ reason: 'BROKER_BUSY', step: 'server-certificate', definitive: false });
  });

  it.each([
    [5, 'CLOSED_BY_BROKER', true],
    [4, 'CLOSED_BY_BROKER', true],
    [2, 'CLIENT_ID_MISMATCH', true],
    [1, 'PROTOCOL_ERROR', true],
    [3, 'SERVER_SHUTDOWN', false],
  ])('CONNACK %i → %s (definitive: %s) at step 6', (code, reason, definitive) => {
    expect(diagnoseConnack(code, 40000)).toMatchObject({ reason, step: 'access-granted', definitive });
  });

  it('the server certificate: untrusted chain vs wrong name, both at step 3', () => {
    expect(diagnoseServerVerification('SELF_SIGNED_CERT_IN_CHAIN')).toMatchObject({
      reason: 'SERVER_UNTRUSTED',
      step: 'server-verified',
      definitive: true,
    });
    expect(diagnoseServerVerification('ERR_TLS_CERT_ALTNAME_INVALID')).toMatchObject({
      reason: 'HOSTNAME_MISMATCH',
      step: 'server-verified',
    });
  });

  it('our own key/certificate failing to load is KEY_MISMATCH (or WEAK_SIGNATURE) at step 4', () => {
    expect(
      diagnoseCredentialLoad(error('ERR_OSSL_X509_KEY_VALUES_MISMATCH', 'key values mismatch')),
    ).toMatchObject({ reason: 'KEY_MISMATCH', step: 'client-certificate', definitive: true });
    expect(diagnoseCredentialLoad(error('ERR_SSL_CA_MD_TOO_WEAK', 'ca md too weak'))).toMatchObject({
      reason: 'WEAK_SIGNATURE',
      step: 'client-certificate',
    });
  });

  it('places every reason at the step where it is decided', () => {
    expect(stepForReason('UNKNOWN_IDENTITY')).toBe('access-granted');
    expect(stepForReason('SELF_SIGNED')).toBe('client-verified');
    expect(stepForReason('PUBLISH_DENIED')).toBe('messages-flow');
    expect(stepForReason('HOSTNAME_MISMATCH')).toBe('server-verified');
  });
});

describe('the ladder of one attempt', () => {
  it('records durations between steps and skips what follows a failure', () => {
    const recorder = new AttemptRecorder(1, 1_000);
    recorder.ok('tcp-connect', 1_005);
    recorder.ok('server-certificate', 1_020);
    recorder.fail('server-verified', 'SERVER_UNTRUSTED', 'foreign CA', 1_021);
    const { steps } = recorder.snapshot();
    expect(steps.map((step) => step.status)).toEqual([
      'ok',
      'ok',
      'failed',
      'skipped',
      'skipped',
      'skipped',
      'skipped',
    ]);
    expect(steps.map((step) => step.ms)).toEqual([5, 15, 1, undefined, undefined, undefined, undefined]);
    expect(steps[2]).toMatchObject({ reason: 'SERVER_UNTRUSTED', detail: 'foreign CA' });
  });

  it('the broker audit moves a failure to the step where the broker decided', () => {
    const recorder = new AttemptRecorder(1, 0);
    for (const step of [
      'tcp-connect',
      'server-certificate',
      'server-verified',
      'client-certificate',
    ] as const) {
      recorder.ok(step, 1);
    }
    recorder.fail('access-granted', 'CLOSED_BY_BROKER', 'CONNACK 5', 2);
    const refined = refineAttempt(recorder.snapshot(), {
      reason: 'EXPIRED',
      step: 'client-verified',
      detail: 'CERT_HAS_EXPIRED',
    });
    expect(refined.steps.map((step) => step.status)).toEqual([
      'ok',
      'ok',
      'ok',
      'ok',
      'failed',
      'skipped',
      'skipped',
    ]);
    expect(refined.steps[4]).toMatchObject({ reason: 'EXPIRED', at: 2 });
  });
});

describe('joining with the broker audit', () => {
  const line = (record: object) => JSON.stringify({ ts: new Date(10_000).toISOString(), ...record });
  it('finds the refusal of the same TCP connection by local port, ignoring acceptances and other ports', () => {
    const lines = [
      line({ event: 'connect-refused', reason: 'UNKNOWN_IDENTITY', peer: { address: '127.0.0.1', port: 1 } }),
      line({ event: 'connection-accepted', reason: 'OK', peer: { address: '127.0.0.1', port: 2 } }),
      line({ event: 'handshake-refused', reason: 'EXPIRED', peer: { address: '127.0.0.1', port: 2 } }),
    ];
    expect(findRefusal(lines, 2, 0)).toMatchObject({ reason: 'EXPIRED' });
    expect(findRefusal(lines, 3, 0)).toBeUndefined();
    expect(findRefusal(lines, 2, 20_000)).toBeUndefined(); // an old record of a reused port
  });

  it("a live feed never answers with an earlier connection's record of the same (reused) local port", async () => {
    const record = (ms: number, reason: string) =>
      parseAuditRecord(
        JSON.stringify({
          ts: new Date(ms).toISOString(),
          event: 'handshake-refused',
          reason,
          peer: { address: '127.0.0.1', port: 40_000 },
        }),
      );
    const explainer = new AuditExplainer({ waitMs: 2_000 });
    // another device's connection had port 40000 and was refused as WRONG_KEY_USAGE at t = 10 s
    explainer.observe(record(10_000, 'WRONG_KEY_USAGE'));
    const rejection = {
      type: 'rejected' as const,
      id: 'rogue-no-cert',
      reason: 'CLOSED_BY_BROKER' as const,
      step: 'client-verified' as const,
      detail: 'closed',
      localPort: 40_000,
      attemptStartedAt: 20_000, // this device's attempt began later, on the freed port
      at: 20_050,
    };
    const answer = explainer.explain(rejection);
    setTimeout(() => explainer.observe(record(20_010, 'NO_CERTIFICATE')), 50);
    expect((await answer)?.reason).toBe('NO_CERTIFICATE');
    // an attempt whose record never comes gets no verdict rather than the old one
    expect((await new AuditExplainer({ waitMs: 100 }).explain(rejection))?.reason).toBeUndefined();
    const stale = new AuditExplainer({ waitMs: 100 });
    stale.observe(record(10_000, 'WRONG_KEY_USAGE'));
    expect(await stale.explain(rejection)).toBeUndefined();
  });

  it("of a cluster, the dialled node's audit answers, not another node's record of the same local port", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'certfleet-explain-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const auditOf = async (name: string, reason: string) => {
      const path = join(dir, `${name}.jsonl`);
      const peer = { address: '127.0.0.1', port: 40_000 };
      await writeFile(
        path,
        `${JSON.stringify({ ts: new Date().toISOString(), event: 'handshake-refused', reason, peer })}\n`,
      );
      return auditFileExplainer(path, { waitMs: 0 });
    };
    // the same local port, at the same time, to two nodes: two different devices
    const nodes = [
      { at: '127.0.0.1:8883', explain: await auditOf('a', 'REVOKED') },
      { at: '127.0.0.1:8884', explain: await auditOf('b', 'EXPIRED') },
    ];
    const rejection = {
      type: 'rejected' as const,
      id: 'rogue-expired',
      reason: 'CLOSED_BY_BROKER' as const,
      step: 'client-verified' as const,
      detail: 'closed',
      localPort: 40_000,
      attemptStartedAt: Date.now() - 1_000,
      dialed: '127.0.0.1:8884',
      at: Date.now(),
    };
    expect((await explainOnDialledNode(nodes)(rejection))?.reason).toBe('EXPIRED');
    const { dialed: _unknown, ...withoutNode } = rejection;
    expect((await explainOnDialledNode(nodes)(withoutNode))?.reason).toBe('REVOKED'); // each in turn, as before
  });
});

describe('MQTT 5 reason strings (the broker says why)', () => {
  it('a CONNACK 0x87 naming a reason of the vocabulary is that reason, at its ladder step', () => {
    const d = diagnoseConnack(0x87, 40000, 'EXPIRED: certificate expired 2026-11-29');
    expect(d).toMatchObject({ reason: 'EXPIRED', step: stepForReason('EXPIRED'), definitive: true });
    expect(d.detail).toBe('CONNACK 0x87: EXPIRED: certificate expired 2026-11-29');
    expect(diagnoseConnack(0x87, 1, 'CLIENT_ID_MISMATCH: client id "x" ≠ CN "y"').reason).toBe(
      'CLIENT_ID_MISMATCH',
    );
  });

  it('without a known reason it stays CLOSED_BY_BROKER (the audit has why); 3.1.1 codes unchanged', () => {
    expect(diagnoseConnack(0x87, 1, 'go away')).toMatchObject({
      reason: 'CLOSED_BY_BROKER',
      definitive: true,
    });
    expect(diagnoseConnack(0x87, 1).detail).toMatch(/^CONNACK 0x87; the broker audit has why/);
    expect(diagnoseConnack(0x89, 1)).toMatchObject({ reason: 'SERVER_SHUTDOWN', definitive: false });
    expect(diagnoseConnack(5, 1)).toMatchObject({ reason: 'CLOSED_BY_BROKER', definitive: true });
  });

  it('a DISCONNECT 0x98 "REVOKED: …" ends the session as REVOKED at messages-flow', () => {
    expect(diagnoseDisconnect(0x98, 'REVOKED: certificate serial AB is revoked')).toEqual({
      reason: 'REVOKED',
      step: 'messages-flow',
      detail: 'DISCONNECT 0x98: REVOKED: certificate serial AB is revoked',
      definitive: true,
    });
    expect(diagnoseDisconnect(0x8b, undefined)).toMatchObject({
      reason: 'CLOSED_BY_BROKER',
      definitive: false,
    });
  });

  it('DISCONNECT 0x8E is a takeover by another connection with our client id: said plainly, and retried', () => {
    expect(diagnoseDisconnect(0x8e, undefined, 'sensor-001')).toEqual({
      reason: 'SESSION_TAKEN_OVER',
      step: 'messages-flow',
      detail: 'taken over: another connection used client id sensor-001 (DISCONNECT 0x8e Session taken over)',
      definitive: false,
    });
    expect(stepForReason('SESSION_TAKEN_OVER')).toBe('messages-flow');
    // A broker that names its own reason in the Reason String is believed.
    expect(diagnoseDisconnect(0x8e, 'REVOKED: serial AB')).toMatchObject({ reason: 'REVOKED' });
  });
});
