import net from 'node:net';
import type { ApiHandler, BrokerContext } from './apis/types';
import { BadRequestError } from './protocol/bad-request-error';
import { FrameDecoder } from './protocol/frame-decoder';
import { Reader } from './protocol/reader';
import type { Writer } from './protocol/writer';

function encodeResponse(correlationId: number, body: Writer): Buffer[] {
  const payload = body.toBuffer();
  const header = Buffer.allocUnsafe(8);
  header.writeInt32BE(4 + payload.length, 0);
  header.writeInt32BE(correlationId, 4);
  return [header, payload];
}

/**
 * TCP front end: frames requests, handles each connection's requests one at a time and answers them in order
 * (librdkafka and kafka-python rely on it), and isolates bad input to the connection that sent it.
 */
export class BrokerServer {
  private readonly server = net.createServer((socket) => this.serve(socket));
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly broker: BrokerContext,
    private readonly apis: ReadonlyMap<number, ApiHandler>,
    private readonly maxFrameBytes: number,
  ) {}

  listen(host: string, port: number): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        // Later errors (e.g. EMFILE on accept) must not crash the process.
        this.server.on('error', (error) =>
          this.broker.logger.error({ err: error }, 'kafka-broker: listener error'),
        );
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(this.maxFrameBytes);
    const queue: Buffer[] = [];
    let draining = false;
    const drain = async (): Promise<void> => {
      draining = true;
      while (queue.length > 0 && !socket.destroyed) await this.answer(socket, queue.shift()!);
      draining = false;
    };
    socket.on('data', (chunk) => {
      try {
        queue.push(...decoder.push(chunk));
      } catch (error) {
        return this.reject(socket, error);
      }
      if (!draining) void drain();
    });
    socket.on('error', () => undefined); // resets and aborts are normal client behaviour
    socket.on('close', () => this.sockets.delete(socket));
  }

  private async answer(socket: net.Socket, frame: Buffer): Promise<void> {
    try {
      const response = await this.dispatch(frame, socket.remoteAddress ?? '');
      if (response && !socket.destroyed) {
        socket.cork();
        response.forEach((part) => socket.write(part));
        socket.uncork();
      }
    } catch (error) {
      this.reject(socket, error);
    }
  }

  private async dispatch(frame: Buffer, clientHost: string): Promise<Buffer[] | null> {
    const reader = new Reader(frame);
    const apiKey = reader.int16();
    const version = reader.int16();
    const correlationId = reader.int32();
    const api = this.apis.get(apiKey);
    if (!api) throw new BadRequestError(`unknown API key ${apiKey}`);
    if (version < api.minVersion || version > api.maxVersion) {
      if (api.answerUnsupportedVersion) return encodeResponse(correlationId, api.answerUnsupportedVersion());
      throw new BadRequestError(`${api.name} v${version} not supported`);
    }
    const clientId = reader.nullableString() ?? '';
    if (api.flexibleFromVersion !== undefined && version >= api.flexibleFromVersion)
      reader.skipTaggedFields();
    const body = await api.handle({ version, body: reader, clientId, clientHost }, this.broker);
    return body && encodeResponse(correlationId, body);
  }

  /** Closes one connection after input it cannot serve, with one log line; everyone else is unaffected. */
  private reject(socket: net.Socket, error: unknown): void {
    if (socket.destroyed) return;
    socket.destroy();
    if (this.broker.isStopping()) return;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    if (error instanceof BadRequestError) {
      this.broker.logger.warn(
        { remote, reason: error.message },
        'kafka-broker: closed connection after bad request',
      );
    } else
      this.broker.logger.error(
        { remote, err: error },
        'kafka-broker: closed connection after internal error',
      );
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.sockets.forEach((socket) => socket.destroy());
    await closed;
  }
}
