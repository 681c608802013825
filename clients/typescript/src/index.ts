// @prizm/client: a typed client of Prizm's RouterService, and the generated messages it speaks.
export { CALLER_HEADER, PrizmClient, capabilityOf } from "./client.js";
export type { CallSettings, ClientOptions, Input, TransformRequest, TransformResult } from "./client.js";
export { PRIZM_DOMAIN, PrizmError, codeName } from "./errors.js";
export type { FieldViolation } from "./errors.js";
export { Output, OutputAssembler, toEvent } from "./events.js";
export type {
  CompletionEvent,
  OutputChunkEvent,
  OutputHeaderEvent,
  OutputSummary,
  ProgressEvent,
  TransformEvent,
} from "./events.js";
export { ErrorReason } from "./gen/prizm/v1/error_reason_pb.js";
export { Capability, MediaKind } from "./gen/prizm/v1/media_pb.js";
export { JobState } from "./gen/prizm/v1/job_pb.js";
