// Typed errors of the whole service. src/http/errors.ts is the one place that maps them to HTTP.

export type ErrorCode =
  | 'invalid_json'
  | 'invalid_input'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unauthorized'
  | 'forbidden'
  | 'item_not_found'
  | 'order_not_found'
  | 'route_not_found'
  | 'order_cancelled'
  | 'no_waiting_room'
  | 'room_not_open'
  | 'ticket_invalid'
  | 'pass_required'
  | 'pass_invalid'
  | 'pass_not_yours'
  | 'pass_expired'
  | 'pass_used'
  | 'unavailable';

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const itemNotFound = (itemId: string) =>
  new AppError('item_not_found', `no sale with itemId ${itemId}`);
export const orderNotFound = (orderId: string) => new AppError('order_not_found', `no order ${orderId}`);
