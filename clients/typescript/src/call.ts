// What every call takes besides its request, and how it becomes connect's call options.
import type { CallOptions as ConnectCallOptions } from "@connectrpc/connect";

export interface CallOptions {
  /** Deadline for this call, in milliseconds (overrides the client's timeoutMs; <= 0: none). */
  timeoutMs?: number;
  /** Sent as x-request-id; the server logs the call under it (or under its own id if not sane). */
  requestId?: string;
  /** Aborting it cancels the call, on the server too. */
  signal?: AbortSignal;
  /** More metadata to send with this call. */
  headers?: Record<string, string>;
}

const CALL_KEYS = ["timeoutMs", "requestId", "signal", "headers"] as const;

/** Splits an options object into the call's part and the rest (the request's part). */
export function splitCallOptions<T extends CallOptions>(
  options: T,
): [CallOptions, Omit<T, keyof CallOptions>] {
  const call: CallOptions = {};
  const rest = { ...options } as Record<string, unknown>;
  for (const key of CALL_KEYS) {
    if (key in rest) {
      (call as Record<string, unknown>)[key] = rest[key];
      delete rest[key];
    }
  }
  return [call, rest as Omit<T, keyof CallOptions>];
}

/** Connect's options for a call; `onRequestId` hears the server's x-request-id. */
export function connectOptions(
  call: CallOptions,
  signal: AbortSignal | undefined,
  onRequestId: (id: string) => void,
): ConnectCallOptions {
  const headers = new Headers(call.headers);
  if (call.requestId) headers.set("x-request-id", call.requestId);
  const options: ConnectCallOptions = {
    headers,
    onHeader: (received) => {
      const id = received.get("x-request-id");
      if (id) onRequestId(id);
    },
  };
  if (call.timeoutMs !== undefined) options.timeoutMs = call.timeoutMs;
  const signals = [signal, call.signal].filter((s): s is AbortSignal => s !== undefined);
  if (signals.length > 0)
    options.signal = signals.length === 1 ? signals[0] : AbortSignal.any(signals);
  return options;
}
