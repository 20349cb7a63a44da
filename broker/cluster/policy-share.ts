/**
 * The policy across machines that share no file system, as crl-share.ts does for revocations: the node whose policy
 * file changed signs it (policy-signature.ts), stores it in Redis and announces it; every node verifies the envelope
 * and the YAML before it applies it — the same way the single broker applies an edited file (open sessions are
 * re-judged). A bad envelope is refused, said once in the audit, and the policy in force stays.
 *
 * Which policy wins: the newest signed one (a cluster-wide sequence). A node that joins adopts the cluster's policy
 * when there is one (a node started from a stale copy must not roll the cluster back); it offers its own only when
 * Redis holds none, or none that verifies.
 */
import type { X509Certificate } from 'node:crypto';
import type { Redis } from 'ioredis';
import { isUserError } from '../../core/user-error.ts';
import type { AuditRecord } from '../audit-record.ts';
import { parsePolicy } from '../policy-load.ts';
import type { Policy } from '../policy.ts';
import {
  envelopeDigest,
  type PolicyEnvelope,
  PolicyRefused,
  type PolicySigner,
  signPolicy,
  verifyPolicyEnvelope,
} from './policy-signature.ts';

export const POLICY_KEY = 'certfleet:policy';
export const POLICY_SEQ_KEY = 'certfleet:policy:seq';
export const POLICY_CHANNEL = 'certfleet:policy:changed';

/** Store and announce an envelope only if the stored one is older (two nodes editing at once: the higher wins). */
const STORE_IF_NEWER = `
local stored = redis.call('get', KEYS[1])
if stored then
  local ok, envelope = pcall(cjson.decode, stored)
  if ok and type(envelope) == 'table' and tonumber(envelope.seq) and tonumber(envelope.seq) >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('set', KEYS[1], ARGV[1])
redis.call('publish', KEYS[2], ARGV[1])
return 1`;

export interface PolicyShareHooks {
  readonly issuers: readonly X509Certificate[];
  /** Revoked serials now: a revoked broker certificate signs nothing we believe. */
  revoked(): ReadonlySet<string>;
  /** The policy file's text this node runs with at start. */
  readonly localYaml: string;
  readonly signer: PolicySigner;
  /** Apply a verified policy from the cluster (new CONNECTs get it, open sessions are re-judged). */
  applyPolicy(policy: Policy, from: string): void;
  audit(record: Omit<AuditRecord, 'ts'>): void;
  warn(error: Error): void;
}

export class PolicyShare {
  /** Sequence of the policy applied now; 0 while this node runs on its own file. */
  private appliedSeq = 0;
  private appliedYaml: string;
  private lastRefused = '';

  constructor(
    private readonly db: Redis,
    private readonly control: Redis,
    private readonly nodeId: string,
    private readonly hooks: PolicyShareHooks,
  ) {
    this.appliedYaml = hooks.localYaml;
  }

  async start(): Promise<void> {
    this.control.on('message', (channel: string, message: string) => {
      if (channel === POLICY_CHANNEL) this.receive(message, 'an announcement');
    });
    await this.control.subscribe(POLICY_CHANNEL);
    // Only into an empty store: a bad stored envelope is refused (and said), but this node's file — maybe a stale
    // copy — is not pushed onto every other node in its place. The next edit of a policy file replaces it.
    if ((await this.catchUp()) === 'empty') await this.offer(this.hooks.localYaml);
  }

  /** Reads the stored envelope (at start, and after Redis was away: announcements made meanwhile were lost). */
  async catchUp(): Promise<'empty' | 'in force' | 'refused'> {
    const stored = await this.db.get(POLICY_KEY);
    if (stored === null) return 'empty';
    // A genuine stored policy older than ours is not an attack: our own edit made while Redis was away, not stored
    // yet. Only announcements of an older policy (replays) are said in the audit.
    return this.receive(stored, 'the cluster store', true) ? 'in force' : 'refused';
  }

  /** Whether `yaml` is the policy in force here (this node's file, or what the cluster last brought). */
  inForce(yaml: string): boolean {
    return yaml === this.appliedYaml;
  }

  /** This node's policy file changed to `yaml` (already validated and applied here): sign it and share it. */
  async offer(yaml: string): Promise<void> {
    // In force here from now on (the broker applied the file before calling): the same policy arriving from
    // another node meanwhile — the nodes of `--workers` share the file — is not applied a second time.
    this.appliedYaml = yaml;
    const seq = await this.db.incr(POLICY_SEQ_KEY);
    // Another node's newer edit arrived (and was applied after this node's file) while we waited: it stays.
    if (seq <= this.appliedSeq) return;
    const envelope = signPolicy(yaml, seq, this.nodeId, this.hooks.signer);
    this.appliedSeq = seq; // our own announcement comes back: not newer, silently skipped
    const stored = await this.db.eval(
      STORE_IF_NEWER,
      2,
      POLICY_KEY,
      POLICY_CHANNEL,
      JSON.stringify(envelope),
      String(seq),
    );
    // Two nodes edited at once and the other one's is newer: converge on it rather than run ours alone.
    if (stored === 0) await this.catchUp();
  }

  /** Verify, then apply. Returns whether the envelope is (now) the policy in force. */
  private receive(text: string, via: string, quietIfStale = false): boolean {
    let envelope: PolicyEnvelope;
    let policy: Policy;
    try {
      envelope = verifyPolicyEnvelope(text, {
        issuers: this.hooks.issuers,
        revoked: this.hooks.revoked(),
        appliedSeq: this.appliedSeq,
      });
      if (envelope.yaml === this.appliedYaml) {
        this.appliedSeq = envelope.seq; // the policy in force already (ours back from Redis, or the same file)
        return true;
      }
      try {
        policy = parsePolicy(envelope.yaml, `cluster policy from ${envelope.node} (seq ${envelope.seq})`);
      } catch (error) {
        throw new PolicyRefused(isUserError(error) ? error.why.trim() : (error as Error).message);
      }
    } catch (error) {
      if (!(error instanceof PolicyRefused)) {
        this.hooks.warn(error as Error);
        return false;
      }
      if (error.stale && this.isInForce(text)) return true;
      if (quietIfStale && error.stale) return false;
      this.refuse(text, via, error);
      return false;
    }
    this.appliedSeq = envelope.seq;
    this.appliedYaml = envelope.yaml;
    this.hooks.applyPolicy(policy, `cluster policy from node ${envelope.node} (seq ${envelope.seq})`);
    return true;
  }

  /**
   * A genuine (signature-checked: only the sequence failed) envelope of the very policy in force: its own
   * announcement coming back, the store read after an outage, or — with `--workers` — every node of the machine
   * sharing the same edited file. Not a refusal: nothing would change.
   */
  private isInForce(text: string): boolean {
    try {
      const value = JSON.parse(text) as Partial<PolicyEnvelope>;
      return value.yaml === this.appliedYaml;
    } catch {
      return false;
    }
  }

  private refuse(text: string, via: string, error: PolicyRefused): void {
    const digest = envelopeDigest(text);
    if (digest === this.lastRefused) return; // said once per bad envelope
    this.lastRefused = digest;
    this.hooks.audit({
      event: 'policy-refused',
      reason: 'POLICY_INVALID',
      detail: `policy from ${via} in Redis refused (envelope ${digest}), the policy in force stays: ${error.message}`,
    });
  }
}
