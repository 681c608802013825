// PrizmError: a failed call's status, with the google.rpc details Prizm attaches, decoded and typed.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import { ErrorReason } from "./gen/prizm/v1/error_reason_pb.js";

/** The `ErrorInfo.domain` of every error Prizm itself raises. */
export const PRIZM_DOMAIN = "prizm.dev";

/** One `google.rpc.BadRequest` field violation: which field, and what is wrong with it. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

function milliseconds(delay: Duration | undefined): number | undefined {
  // Duration.seconds is an int64 (bigint); delays are small, so a number of ms is exact enough.
  return delay === undefined ? undefined : Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1e6);
}

/**
 * A failed Prizm call.
 *
 * `reason` is the stable `ErrorInfo.reason` (a `prizm.v1.ErrorReason` value without its
 * `ERROR_REASON_` prefix, e.g. `INVALID_OPTIONS`); a status without `ErrorInfo` gets its code's
 * name instead (e.g. `UNAVAILABLE`). Branch on `reason`, never on `message`.
 */
export class PrizmError extends Error {
  /** The gRPC status code. */
  readonly code: Code;
  /** The stable reason, e.g. `CALLER_CONCURRENCY_EXCEEDED`. */
  readonly reason: string;
  /** `reason` as the generated enum; undefined for a reason this client's protos predate. */
  readonly errorReason: ErrorReason | undefined;
  /** `ErrorInfo.domain`: `prizm.dev` for Prizm's own errors; empty without `ErrorInfo`. */
  readonly domain: string;
  /** `ErrorInfo.metadata`, e.g. the job id or provider. */
  readonly metadata: Readonly<Record<string, string>>;
  /** `RetryInfo.retry_delay` in milliseconds when a retry can help; undefined when it cannot. */
  readonly retryDelayMs: number | undefined;
  /** `BadRequest` field violations, for INVALID_ARGUMENT. */
  readonly fieldViolations: readonly FieldViolation[];

  constructor(
    code: Code,
    message: string,
    details: {
      reason?: string;
      domain?: string;
      metadata?: Record<string, string>;
      retryDelayMs?: number;
      fieldViolations?: FieldViolation[];
    } = {},
    options?: { cause?: unknown },
  ) {
    const reason = details.reason || codeName(code);
    super(`${reason}: ${message}`, options);
    this.name = "PrizmError";
    this.code = code;
    this.reason = reason;
    this.errorReason = reason in ErrorReason ? ErrorReason[reason as keyof typeof ErrorReason] : undefined;
    this.domain = details.domain ?? "";
    this.metadata = details.metadata ?? {};
    this.retryDelayMs = details.retryDelayMs;
    this.fieldViolations = details.fieldViolations ?? [];
  }

  /** Whether the server said a retry can help (it sent `RetryInfo`). */
  get retryable(): boolean {
    return this.retryDelayMs !== undefined;
  }

  /** Any error a Connect call throws, as a PrizmError with its status details decoded. */
  static from(error: unknown): PrizmError {
    if (error instanceof PrizmError) {
      return error;
    }
    const failed = ConnectError.from(error);
    const [info] = failed.findDetails(ErrorInfoSchema);
    const [retry] = failed.findDetails(RetryInfoSchema);
    const violations = failed.findDetails(BadRequestSchema).flatMap((bad) => bad.fieldViolations);
    return new PrizmError(
      failed.code,
      failed.rawMessage,
      {
        reason: info?.reason,
        domain: info?.domain,
        metadata: info ? { ...info.metadata } : undefined,
        retryDelayMs: milliseconds(retry?.retryDelay),
        fieldViolations: violations.map((v) => ({ field: v.field, description: v.description })),
      },
      { cause: error },
    );
  }
}

/** A status code's gRPC name, e.g. `RESOURCE_EXHAUSTED` for `Code.ResourceExhausted`. */
export function codeName(code: Code): string {
  if (code === Code.Canceled) {
    return "CANCELLED"; // gRPC's spelling; Connect's enum says Canceled
  }
  return (Code[code] ?? `CODE_${code}`).replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}
