/**
 * Every error Tidemark reports to a user has a code from this catalogue, a message a person
 * can act on, and (for the HTTP API) a status. Notifier errors also say whether a retry can help.
 */
export const ERRORS = {
  TM_ERR_CONFIG: { status: 400, doc: 'A configuration value is missing, of the wrong type, or out of range.' },
  TM_ERR_UNKNOWN_DETECTOR: { status: 400, doc: 'A detector name is not in the registry; the message lists the valid ones.' },
  TM_ERR_USAGE: { status: 400, doc: 'A command-line argument is missing or invalid.' },
  TM_ERR_INPUT: { status: 400, doc: 'An input file or payload could not be parsed.' },
  TM_ERR_TOO_LARGE: { status: 413, doc: 'A payload is larger than the configured limit once decompressed; send smaller batches.' },
  TM_ERR_NOT_FOUND: { status: 404, doc: 'A file, directory or resource that was named does not exist.' },
  TM_ERR_STATE: { status: 500, doc: 'A detector checkpoint could not be restored (wrong version or corrupt).' },
  TM_ERR_CONFLICT: { status: 409, doc: 'A write lost a race or repeats a unique value (a stale config base version, a duplicate token).' },
  TM_ERR_UNAUTHORIZED: { status: 401, doc: 'No API token, or one that is unknown, revoked or expired: send `Authorization: Bearer <token>`.' },
  TM_ERR_FORBIDDEN: { status: 403, doc: "The token's role does not allow this endpoint (write: ingest; read: queries; admin: everything)." },
  TM_ERR_MEDIA_TYPE: { status: 415, doc: 'The Content-Type (or Content-Encoding) is not one this endpoint reads; the message lists the accepted ones.' },
  TM_ERR_CARDINALITY: { status: 429, doc: 'New series were refused by an active-series or label-value limit; the message names the metric and the label.' },
  TM_ERR_NOTIFY: { status: 502, doc: 'A notification was not delivered; `retryable` says whether a retry can help (5xx, 429, timeouts, network errors) or not (other 4xx).' },
  TM_ERR_INTERNAL: { status: 500, doc: 'A bug in Tidemark: the request failed unexpectedly; the server log has the stack. Please report it.' },
  TM_ERR_STORE: { status: 500, doc: 'The store failed: database locked by another process, disk full, corrupt, or a schema migration problem.' },
  TM_ERR_UNAVAILABLE: { status: 503, doc: 'A cluster peer (NATS JetStream or PostgreSQL) is unreachable; nothing was acknowledged, so retry the same request.' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class TidemarkError extends Error {
  readonly code: ErrorCode;
  /** Where the problem is: a config path (`detectors[2].window`), a field, or a file:line. */
  readonly path: string | undefined;
  constructor(code: ErrorCode, message: string, path?: string) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'TidemarkError';
    this.code = code;
    this.path = path;
  }
  get status(): number {
    return ERRORS[this.code].status;
  }
}
