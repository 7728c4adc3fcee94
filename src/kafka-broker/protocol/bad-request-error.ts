/** Input the broker will not serve (bad framing, truncated body, unknown API): that connection is closed. */
export class BadRequestError extends Error {}
