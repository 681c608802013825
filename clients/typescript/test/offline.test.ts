// The client's pure parts, with no server: output reassembly, capability names, error decoding.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  Capability,
  ErrorReason,
  MediaKind,
  OutputAssembler,
  PrizmError,
  capabilityOf,
  type CompletionEvent,
  type TransformEvent,
} from "../src/index.js";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../src/gen/google/rpc/error_details_pb.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const header = (index: number, sequence: bigint): TransformEvent => ({
  kind: "outputHeader", jobId: "j", sequence, index, mediaKind: MediaKind.TEXT, mimeType: "text/plain", metadata: {},
});
const chunk = (index: number, text: string, sequence: bigint): TransformEvent => ({
  kind: "outputChunk", jobId: "j", sequence, index, data: bytes(text),
});
const completion = (...outputs: string[]): CompletionEvent => ({
  kind: "completion", jobId: "j", sequence: 99n, elapsedMs: 1,
  outputs: outputs.map((text, index) => ({
    index, sizeBytes: bytes(text).length, sha256: createHash("sha256").update(text).digest("hex"),
  })),
});

test("chunks are joined per output, in index order", () => {
  const assembler = new OutputAssembler();
  const events = [header(1, 0n), header(0, 1n), chunk(0, "hel", 2n), chunk(1, "wor", 3n), chunk(0, "lo", 4n), chunk(1, "ld", 5n)];
  for (const event of events) {
    assembler.add(event);
  }
  const outputs = assembler.outputs(completion("hello", "world"));
  assert.deepEqual(outputs.map((o) => [o.index, o.text()]), [[0, "hello"], [1, "world"]]);
});

test("a repeated header (a restart) drops the output's earlier chunks", () => {
  const assembler = new OutputAssembler();
  for (const event of [header(0, 0n), chunk(0, "half of the fir", 1n), header(0, 2n), chunk(0, "again", 3n)]) {
    assembler.add(event);
  }
  assert.equal(assembler.outputs(completion("again"))[0]?.text(), "again");
});

test("an output that does not match its summary is OUTPUT_CORRUPTED", () => {
  const assembler = new OutputAssembler();
  assembler.add(header(0, 0n));
  assembler.add(chunk(0, "hellp", 1n));
  assert.throws(() => assembler.outputs(completion("hello")), (e: unknown) =>
    e instanceof PrizmError && e.reason === "OUTPUT_CORRUPTED" && e.code === Code.DataLoss);
  assert.throws(() => new OutputAssembler().add(chunk(3, "x", 0n)), (e: unknown) =>
    e instanceof PrizmError && e.reason === "OUTPUT_CORRUPTED");
});

test("capabilities by name; an unknown one is UNKNOWN_CAPABILITY", () => {
  assert.equal(capabilityOf("text-to-audio"), Capability.TEXT_TO_AUDIO);
  assert.equal(capabilityOf("CAPABILITY_AUDIO_TO_TEXT"), Capability.AUDIO_TO_TEXT);
  assert.throws(() => capabilityOf("text-to-smell"), (e: unknown) =>
    e instanceof PrizmError && e.reason === "UNKNOWN_CAPABILITY" && e.errorReason === ErrorReason.UNKNOWN_CAPABILITY);
});

test("a status's ErrorInfo, RetryInfo and BadRequest become the PrizmError's fields", () => {
  const details = [
    { desc: ErrorInfoSchema, value: { reason: "UPSTREAM_RATE_LIMITED", domain: "prizm.dev", metadata: { provider: "x" } } },
    { desc: RetryInfoSchema, value: { retryDelay: create(DurationSchema, { seconds: 2n, nanos: 500_000_000 }) } },
    { desc: BadRequestSchema, value: { fieldViolations: [{ field: "options.speed", description: "too fast" }] } },
  ];
  const error = PrizmError.from(new ConnectError("slow down", Code.ResourceExhausted, undefined, details));
  assert.equal(error.reason, "UPSTREAM_RATE_LIMITED");
  assert.equal(error.errorReason, ErrorReason.UPSTREAM_RATE_LIMITED);
  assert.equal(error.retryDelayMs, 2500);
  assert.ok(error.retryable);
  assert.deepEqual(error.metadata, { provider: "x" });
  assert.deepEqual(error.fieldViolations, [{ field: "options.speed", description: "too fast" }]);
  const bare = PrizmError.from(new ConnectError("gone", Code.Unavailable));
  assert.equal(bare.reason, "UNAVAILABLE");
  assert.equal(bare.retryDelayMs, undefined);
  assert.equal(PrizmError.from(new ConnectError("x", Code.Canceled)).reason, "CANCELLED");
});
