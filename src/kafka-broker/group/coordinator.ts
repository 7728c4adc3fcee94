import type { Logger } from '../logger';
import { Group } from './group';
import type { GroupStore } from './group-store';

/** All consumer groups of this broker (it is the coordinator of every group). */
export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly logger: Logger,
    private readonly store: GroupStore,
  ) {
    for (const snapshot of store.load()) {
      this.groups.set(
        snapshot.groupId,
        Group.restore(snapshot, logger, () => this.persist()),
      );
    }
  }

  private persist(): void {
    this.store.save(this.list().flatMap((group) => (group.stableSnapshot ? [group.stableSnapshot] : [])));
  }

  group(groupId: string): Group {
    let group = this.groups.get(groupId);
    if (!group) {
      group = new Group(groupId, this.logger, () => this.persist());
      this.groups.set(groupId, group);
    }
    return group;
  }

  find(groupId: string): Group | undefined {
    return this.groups.get(groupId);
  }

  list(): Group[] {
    return [...this.groups.values()];
  }

  shutdown(): void {
    this.groups.forEach((group) => group.shutdown());
  }
}
