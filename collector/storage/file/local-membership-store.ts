/**
 * Group membership for the embedded (file) backend, held in this process's memory.
 *
 * Membership is soft state: it is only as old as the members' last heartbeats. After a collector restart every
 * member's heartbeat answers `unknown_member` and the member joins again, exactly as after a session timeout, so
 * persisting it would buy nothing. Committed offsets, which are not soft, live in the offset store on disk.
 * Changes to one group are applied one at a time, in call order.
 */
import type { GroupMembership, MembershipChange, MembershipStore } from '../log-store.ts';

export class LocalMembershipStore implements MembershipStore {
  private readonly groups = new Map<string, GroupMembership>();
  private readonly queues = new Map<string, Promise<unknown>>();

  async get(group: string): Promise<GroupMembership | undefined> {
    return this.groups.get(group);
  }

  update<T>(group: string, change: (current: GroupMembership | undefined) => MembershipChange<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const { next, result } = change(this.groups.get(group));
      if (next === undefined) this.groups.delete(group);
      else if (next !== 'unchanged') this.groups.set(group, next);
      return result;
    };
    const previous = this.queues.get(group) ?? Promise.resolve();
    const done = previous.then(run, run);
    const tail = done.catch(() => {});
    this.queues.set(group, tail);
    void tail.then(() => {
      if (this.queues.get(group) === tail) this.queues.delete(group);
    });
    return done;
  }

  async listGroups(): Promise<string[]> {
    return [...this.groups.keys()].sort();
  }

  async list(): Promise<ReadonlyMap<string, GroupMembership>> {
    return new Map(this.groups);
  }
}
