// PrizmClient: RouterService.Transform as an async iterator of typed events, and run() for whole outputs.
import { create, type JsonObject } from "@bufbuild/protobuf";
import { Code, createClient, type CallOptions, type Client, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AssetSchema, Capability, MediaKind, type Asset } from "./gen/prizm/v1/media_pb.js";
import { RouterService, RouterServiceTransformRequestSchema } from "./gen/prizm/v1/router_service_pb.js";
import { PrizmError } from "./errors.js";
import { OutputAssembler, toEvent, type CompletionEvent, type Output, type TransformEvent } from "./events.js";

/** The metadata key that names the caller, for the router's per-caller limits. */
export const CALLER_HEADER = "prizm-caller";

/** An input: text as a string, or bytes with their media kind and MIME type. */
export type Input = string | { data: Uint8Array; mimeType: string; kind: MediaKind };

/** What to transform: a capability (`"text-to-audio"` or `Capability.TEXT_TO_AUDIO`), inputs, options. */
export interface TransformRequest {
  capability: string | Capability;
  inputs?: Input[];
  /** A model id; empty lets the router pick one for the capability. */
  model?: string;
  /** The model's options, e.g. `{ speed: 1.2 }`; any the model does not declare is refused. */
  options?: JsonObject;
  /** Pin one provider by id. */
  provider?: string;
  /** A job id of the caller's own, for logs and cancellation; the router makes one if empty. */
  jobId?: string;
}

/** Per-call settings. */
export interface CallSettings {
  /** Deadline of the whole call in milliseconds; the client's default when undefined. */
  timeoutMs?: number;
  /** Aborting it cancels the job. */
  signal?: AbortSignal;
}

/** A finished job: its whole outputs and its completion. */
export interface TransformResult {
  readonly jobId: string;
  readonly outputs: Output[];
  readonly completion: CompletionEvent;
}

/** The client's settings. */
export interface ClientOptions {
  /** Sent as `prizm-caller`: the identity the router's per-caller limits count by (auth off). */
  caller?: string;
  /**
   * The caller's API key or JWT for a router with auth on, sent as `authorization: Bearer <apiKey>`
   * on every call (the Python client and the CLI take it from `PRIZM_API_KEY`).
   */
  apiKey?: string;
  /** Default deadline of a call in milliseconds (10 minutes if unset). */
  timeoutMs?: number;
  /** A transport of your own (TLS, interceptors); replaces the plain HTTP/2 one to `address`. */
  transport?: Transport;
}

/** `text-to-audio`, `TEXT_TO_AUDIO` or `CAPABILITY_TEXT_TO_AUDIO` as the enum value. */
export function capabilityOf(value: string | Capability): Capability {
  if (typeof value !== "string") {
    return value;
  }
  const key = value.trim().toUpperCase().replace(/-/g, "_").replace(/^CAPABILITY_/, "");
  const found = Capability[key as keyof typeof Capability];
  if (found === undefined || found === Capability.UNSPECIFIED) {
    throw new PrizmError(Code.InvalidArgument, `unknown capability ${JSON.stringify(value)}`, {
      reason: "UNKNOWN_CAPABILITY",
    });
  }
  return found;
}

function assetOf(input: Input): Asset {
  if (typeof input === "string") {
    const data = new TextEncoder().encode(input);
    return create(AssetSchema, { kind: MediaKind.TEXT, mimeType: "text/plain; charset=utf-8", source: { case: "data", value: data } });
  }
  return create(AssetSchema, { kind: input.kind, mimeType: input.mimeType, source: { case: "data", value: input.data } });
}

/** A client of a Prizm router over gRPC (HTTP/2). */
export class PrizmClient {
  private readonly client: Client<typeof RouterService>;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  /**
   * @param address - The router, `host:port` or `http://host:port` (plaintext) / `https://…`.
   * @param options - Caller identity or API key, default deadline, or a transport of your own.
   */
  constructor(address: string, options: ClientOptions = {}) {
    const baseUrl = /^https?:\/\//.test(address) ? address : `http://${address}`;
    this.client = createClient(RouterService, options.transport ?? createGrpcTransport({ baseUrl }));
    this.headers = {
      ...(options.caller ? { [CALLER_HEADER]: options.caller } : {}),
      ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
    };
    this.timeoutMs = options.timeoutMs ?? 600_000;
  }

  /**
   * Start a job and yield its events as they come: progress, output headers and chunks, and the
   * completion last. Failure is thrown as a `PrizmError` (reason, retry delay, field violations).
   */
  async *transform(request: TransformRequest, settings: CallSettings = {}): AsyncGenerator<TransformEvent> {
    const message = create(RouterServiceTransformRequestSchema, {
      capability: capabilityOf(request.capability),
      model: request.model ?? "",
      inputs: (request.inputs ?? []).map(assetOf),
      options: request.options,
      jobId: request.jobId ?? "",
      routing: request.provider ? { provider: request.provider } : undefined,
    });
    const call: CallOptions = {
      headers: this.headers,
      timeoutMs: settings.timeoutMs ?? this.timeoutMs,
      signal: settings.signal,
    };
    try {
      for await (const response of this.client.transform(message, call)) {
        const event = toEvent(response);
        if (event !== undefined) {
          yield event;
        }
      }
    } catch (error) {
      throw PrizmError.from(error);
    }
  }

  /**
   * Run a job to its end and return its whole outputs, checked against the completion's sizes and
   * hashes; `onProgress` sees every progress event on the way.
   */
  async run(
    request: TransformRequest,
    settings: CallSettings & { onProgress?: (event: TransformEvent & { kind: "progress" }) => void } = {},
  ): Promise<TransformResult> {
    const assembler = new OutputAssembler();
    for await (const event of this.transform(request, settings)) {
      if (event.kind === "progress") {
        settings.onProgress?.(event);
      } else if (event.kind === "completion") {
        return { jobId: event.jobId, outputs: assembler.outputs(event), completion: event };
      } else {
        assembler.add(event);
      }
    }
    throw new PrizmError(Code.DataLoss, "the stream ended without a completion", { reason: "INCOMPLETE_STREAM" });
  }
}
