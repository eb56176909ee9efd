// Typed errors for the gRPC status codes the server answers with.
import { Code, ConnectError } from "@connectrpc/connect";

/** gRPC status names, as the server and every gRPC tool write them. */
export type StatusCode =
  | "CANCELLED"
  | "UNKNOWN"
  | "INVALID_ARGUMENT"
  | "DEADLINE_EXCEEDED"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "PERMISSION_DENIED"
  | "RESOURCE_EXHAUSTED"
  | "FAILED_PRECONDITION"
  | "ABORTED"
  | "OUT_OF_RANGE"
  | "UNIMPLEMENTED"
  | "INTERNAL"
  | "UNAVAILABLE"
  | "DATA_LOSS"
  | "UNAUTHENTICATED";

const NAMES: Record<Code, StatusCode> = {
  [Code.Canceled]: "CANCELLED",
  [Code.Unknown]: "UNKNOWN",
  [Code.InvalidArgument]: "INVALID_ARGUMENT",
  [Code.DeadlineExceeded]: "DEADLINE_EXCEEDED",
  [Code.NotFound]: "NOT_FOUND",
  [Code.AlreadyExists]: "ALREADY_EXISTS",
  [Code.PermissionDenied]: "PERMISSION_DENIED",
  [Code.ResourceExhausted]: "RESOURCE_EXHAUSTED",
  [Code.FailedPrecondition]: "FAILED_PRECONDITION",
  [Code.Aborted]: "ABORTED",
  [Code.OutOfRange]: "OUT_OF_RANGE",
  [Code.Unimplemented]: "UNIMPLEMENTED",
  [Code.Internal]: "INTERNAL",
  [Code.Unavailable]: "UNAVAILABLE",
  [Code.DataLoss]: "DATA_LOSS",
  [Code.Unauthenticated]: "UNAUTHENTICATED",
};

const STATUS_NUMBERS = Object.fromEntries(
  Object.entries(NAMES).map(([status, name]) => [name, Number(status)]),
) as Record<StatusCode, number>;

/**
 * A call failed. `code` is the gRPC status name, `status` its number, `details` the server's
 * message and `requestId` the id the server logged the call under (when it got that far).
 */
export class CantataError extends Error {
  override name = "CantataError";
  readonly code: StatusCode;
  readonly status: number;
  readonly details: string;
  readonly requestId: string | undefined;

  constructor(code: StatusCode, details: string, requestId?: string, options?: ErrorOptions) {
    super(`${code}: ${details}${requestId ? ` (request ${requestId})` : ""}`, options);
    this.code = code;
    this.status = STATUS_NUMBERS[code];
    this.details = details;
    this.requestId = requestId;
  }
}

export class InvalidArgumentError extends CantataError {
  override name = "InvalidArgumentError";
}
export class NotFoundError extends CantataError {
  override name = "NotFoundError";
}
export class ResourceExhaustedError extends CantataError {
  override name = "ResourceExhaustedError";
  /** How long the server asks callers to wait before trying again, when it says. */
  retryAfterMs: number | undefined;
}
export class UnavailableError extends CantataError {
  override name = "UnavailableError";
}
export class DeadlineExceededError extends CantataError {
  override name = "DeadlineExceededError";
}
export class UnauthenticatedError extends CantataError {
  override name = "UnauthenticatedError";
}
export class CancelledError extends CantataError {
  override name = "CancelledError";
}
export class InternalError extends CantataError {
  override name = "InternalError";
}

type ErrorClass = new (
  code: StatusCode,
  details: string,
  requestId?: string,
  options?: ErrorOptions,
) => CantataError;

const CLASSES: Partial<Record<StatusCode, ErrorClass>> = {
  INVALID_ARGUMENT: InvalidArgumentError,
  NOT_FOUND: NotFoundError,
  RESOURCE_EXHAUSTED: ResourceExhaustedError,
  UNAVAILABLE: UnavailableError,
  DEADLINE_EXCEEDED: DeadlineExceededError,
  UNAUTHENTICATED: UnauthenticatedError,
  CANCELLED: CancelledError,
  INTERNAL: InternalError,
};

const RETRY_PUSHBACK = "grpc-retry-pushback-ms";

// Node's and OpenSSL's codes for a TLS handshake that failed (an untrusted or misnamed
// certificate, TLS spoken to a plaintext port).
const TLS_FAILURE = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|HOSTNAME_)/;

function isTlsFailure(error: unknown): boolean {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 8; depth += 1) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && TLS_FAILURE.test(code)) return true;
    cause = cause.cause;
  }
  return false;
}

/** The typed error for anything a call threw; `sentRequestId` stands in when the server sent none. */
export function toCantataError(error: unknown, sentRequestId?: string): CantataError {
  if (error instanceof CantataError) return error;
  const connectError = ConnectError.from(error);
  let code = NAMES[connectError.code] ?? "UNKNOWN";
  // Connect calls these INTERNAL; gRPC's own clients, UNAVAILABLE: no connection was made.
  if (code === "INTERNAL" && isTlsFailure(connectError.cause)) code = "UNAVAILABLE";
  const requestId = connectError.metadata.get("x-request-id") ?? sentRequestId;
  const ErrorType = CLASSES[code] ?? CantataError;
  const typed = new ErrorType(code, connectError.rawMessage, requestId || undefined, {
    cause: error,
  });
  const pushback = connectError.metadata.get(RETRY_PUSHBACK);
  if (typed instanceof ResourceExhaustedError && pushback !== null) {
    typed.retryAfterMs = Number(pushback);
  }
  return typed;
}
