import { BadRequestError } from './bad-request-error';

const SIZE_PREFIX = 4;

/** Cuts a TCP byte stream into size-prefixed frames, copying each chunk once into a frame of the declared size. */
export class FrameDecoder {
  private readonly sizeBytes = Buffer.alloc(SIZE_PREFIX);
  private sizeFill = 0;
  private frame: Buffer | null = null;
  private frameFill = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Returns the frames completed by `chunk`; throws BadRequestError on a negative or oversized size. */
  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (!this.frame) {
        const taken = Math.min(SIZE_PREFIX - this.sizeFill, chunk.length - at);
        chunk.copy(this.sizeBytes, this.sizeFill, at, at + taken);
        this.sizeFill += taken;
        at += taken;
        if (this.sizeFill < SIZE_PREFIX) break;
        this.startFrame(this.sizeBytes.readInt32BE(0));
      }
      const frame = this.frame!;
      const taken = Math.min(frame.length - this.frameFill, chunk.length - at);
      chunk.copy(frame, this.frameFill, at, at + taken);
      this.frameFill += taken;
      at += taken;
      if (this.frameFill === frame.length) {
        frames.push(frame);
        this.frame = null;
      }
    }
    return frames;
  }

  private startFrame(size: number): void {
    if (size < 0 || size > this.maxFrameBytes) {
      throw new BadRequestError(`frame size ${size} outside 0..${this.maxFrameBytes}`);
    }
    this.sizeFill = 0;
    this.frame = Buffer.allocUnsafe(size);
    this.frameFill = 0;
  }
}
