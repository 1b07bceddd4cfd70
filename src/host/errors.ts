/**
 * Errors with stable codes, as undici's are (UND_ERR_*): a log, a counter or a caller matches on `code`, never
 * on the message, which may be re-worded. Codes are MRA_<PLANE>_<WHAT>, each fixed to its class (or, where a class
 * carries a protocol's status or condition, to that). Each protocol maps its errors to the wire once: SIP to a
 * status and reason (SipError), HTTP to a status and a plain-text body (HttpError), XMPP to a stream error
 * (XmppFramingError).
 */
export abstract class MraError extends Error {
  abstract readonly code: string;
}

/** What a fault that is none of ours is logged and counted as. */
export const INTERNAL = 'MRA_INTERNAL';

/** The code to log an error under: an MraError's, a Node system error's (ECONNRESET, ...), else MRA_INTERNAL. */
export function errorCode(err: unknown): string {
  if (err instanceof MraError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : INTERNAL;
}

/** A listener (an event handler a plane registered) threw: caught where the event is delivered, logged and counted. */
export class ListenerFailed extends MraError {
  readonly code = 'MRA_LISTENER_FAILED';
  constructor(
    /** Whose event, e.g. "relay latched". */
    readonly event: string,
    override readonly cause: unknown,
  ) {
    super(`a listener of ${event} threw: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'ListenerFailed';
  }
}

/**
 * An operator's input refused (an admin action's field): the message names the field and why; nothing was applied.
 * The admin API answers it 400 (`status`), where a fault of the node is a 500.
 */
export class BadInput extends MraError {
  readonly code: string = 'MRA_BAD_INPUT';
  readonly status: number = 400;
}

/** The change could not be made now (another peer is making one): 409, the operator tries again. */
export class ChangeConflict extends BadInput {
  override readonly code: string = 'MRA_CHANGE_CONFLICT';
  override readonly status = 409;
}
