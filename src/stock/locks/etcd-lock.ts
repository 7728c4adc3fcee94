// etcd-lock: a segment's lock is a key created only if absent (compare create_revision = 0, as etcd3's Lock does),
// attached to one lease per process that the client keeps alive. The fencing token is the key's revision, from the
// transaction's header: etcd's revisions grow for every write in the cluster, so a later holder's token is higher.
// etcd3's own Lock grants, keeps alive and revokes a lease per acquisition (three more round trips per purchase) and
// does not return the revision, so this uses the same primitives with a shared lease.
import { Etcd3, type Lease } from 'etcd3';
import type { SegmentKeys } from '../keys';
import type { HeldLock, SegmentLock } from '../segment-takers';
import { LOCK_CALL_TIMEOUT_MS } from './deadline';

export class EtcdSegmentLock implements SegmentLock {
  private readonly client: Etcd3;
  private lease: Lease | undefined;
  private readonly ttlSeconds: number;

  constructor(endpoints: string[], leaseMs: number) {
    this.client = new Etcd3({
      hosts: endpoints,
      dialTimeout: LOCK_CALL_TIMEOUT_MS,
      defaultCallOptions: () => ({ deadline: Date.now() + LOCK_CALL_TIMEOUT_MS }),
    });
    this.ttlSeconds = Math.max(1, Math.ceil(leaseMs / 1000));
  }

  async acquire(keys: SegmentKeys): Promise<HeldLock | undefined> {
    const key = `seckill/locks/${keys.lock}`;
    const lease = this.currentLease();
    try {
      const leaseId = await lease.grant();
      const result = await this.client
        .if(key, 'Create', '==', 0)
        .then(this.client.put(key).value(String(process.pid)).lease(leaseId))
        .commit();
      if (!result.succeeded) return undefined;
      const revision = result.header.revision;
      return { token: BigInt(revision), release: () => this.release(key, revision) };
    } catch (err) {
      // The put may have landed after all: under a lease this process keeps alive, it would lock the segment for
      // good. Dropping the lease lets etcd delete whatever was written under it.
      this.dropLease(lease);
      throw err;
    }
  }

  /** Deletes the key only while it is still this acquisition's (mod_revision = token). */
  private async release(key: string, revision: string): Promise<void> {
    try {
      await this.client.if(key, 'Mod', '==', revision).then(this.client.delete().key(key)).commit();
    } catch {
      if (this.lease) this.dropLease(this.lease);
    }
  }

  private currentLease(): Lease {
    if (this.lease && !this.lease.revoked()) return this.lease;
    const lease = this.client.lease(this.ttlSeconds);
    // Lost: keep-alives failed past the TTL (the process was paused, or etcd unreachable); its keys are gone.
    lease.on('lost', () => {
      if (this.lease === lease) this.lease = undefined;
    });
    this.lease = lease;
    return lease;
  }

  private dropLease(lease: Lease): void {
    if (this.lease === lease) this.lease = undefined;
    lease.revoke().catch(() => lease.release()); // unreachable: stop the keep-alives, etcd expires it
  }

  async close(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    await lease?.revoke().catch(() => undefined);
    this.client.close();
  }
}
