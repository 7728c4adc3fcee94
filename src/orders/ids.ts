import { Snowflake } from '@sapphire/snowflake';

/** Custom epoch so the 41-bit timestamp lasts until the 2090s. */
const EPOCH = new Date('2024-01-01T00:00:00Z');

/** 64-bit, time-ordered ids (timestamp · worker · sequence), as decimal strings for JSON. */
export class IdGenerator {
  private readonly snowflake = new Snowflake(EPOCH);
  private readonly workerId: bigint;
  private readonly processId: bigint;

  constructor(workerId: number) {
    // Sapphire splits the 10 machine bits into 5 "worker" + 5 "process" bits.
    this.workerId = BigInt(workerId >> 5);
    this.processId = BigInt(workerId & 31);
  }

  next(): string {
    return this.snowflake.generate({ workerId: this.workerId, processId: this.processId }).toString();
  }
}
