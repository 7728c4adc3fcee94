import type { Logger } from '../logger';
import { Group } from './group';

/** All consumer groups of this broker (it is the coordinator of every group). */
export class GroupCoordinator {
  private readonly groups = new Map<string, Group>();

  constructor(private readonly logger: Logger) {}

  group(groupId: string): Group {
    let group = this.groups.get(groupId);
    if (!group) {
      group = new Group(groupId, this.logger);
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
