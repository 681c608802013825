// Typed transform events, and OutputAssembler: the output chunks of a stream back into whole outputs.
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { Code } from "@connectrpc/connect";
import type { RouterServiceTransformResponse } from "./gen/prizm/v1/router_service_pb.js";
import { JobState } from "./gen/prizm/v1/job_pb.js";
import { MediaKind } from "./gen/prizm/v1/media_pb.js";
import { PrizmError } from "./errors.js";

/** Progress of the job: state, fraction done (0..1, when known), stage and message. */
export interface ProgressEvent {
  readonly kind: "progress";
  readonly jobId: string;
  readonly sequence: bigint;
  readonly state: JobState;
  readonly fraction: number | undefined;
  readonly stage: string;
  readonly message: string;
}

/** An output begins; its bytes follow as `outputChunk` events with the same index. */
export interface OutputHeaderEvent {
  readonly kind: "outputHeader";
  readonly jobId: string;
  readonly sequence: bigint;
  readonly index: number;
  readonly mediaKind: MediaKind;
  readonly mimeType: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** The next bytes of output `index`. */
export interface OutputChunkEvent {
  readonly kind: "outputChunk";
  readonly jobId: string;
  readonly sequence: bigint;
  readonly index: number;
  readonly data: Uint8Array;
}

/** What one output turned out to be, as the completion reports it. */
export interface OutputSummary {
  readonly index: number;
  readonly sizeBytes: number;
  readonly sha256: string;
}

/** The job is done: always the last event. */
export interface CompletionEvent {
  readonly kind: "completion";
  readonly jobId: string;
  readonly sequence: bigint;
  readonly outputs: readonly OutputSummary[];
  readonly elapsedMs: number | undefined;
}

/** One event of a transform's stream; switch on `kind`. */
export type TransformEvent = ProgressEvent | OutputHeaderEvent | OutputChunkEvent | CompletionEvent;

/** The typed event of one wire response; undefined for an event kind this client does not know. */
export function toEvent(response: RouterServiceTransformResponse): TransformEvent | undefined {
  const { jobId, sequence, event } = response;
  switch (event.case) {
    case "progress": {
      const p = event.value;
      return { kind: "progress", jobId, sequence, state: p.state, fraction: p.fraction, stage: p.stage, message: p.message };
    }
    case "outputHeader": {
      const asset = event.value.asset;
      return {
        kind: "outputHeader",
        jobId,
        sequence,
        index: event.value.index,
        mediaKind: asset?.kind ?? MediaKind.UNSPECIFIED,
        mimeType: asset?.mimeType ?? "",
        metadata: { ...asset?.metadata },
      };
    }
    case "outputChunk":
      return { kind: "outputChunk", jobId, sequence, index: event.value.index, data: event.value.data };
    case "completion": {
      const c = event.value;
      const outputs = c.outputs.map((o) => ({ index: o.index, sizeBytes: Number(o.sizeBytes), sha256: o.sha256 }));
      const elapsedMs = c.elapsed ? Number(c.elapsed.seconds) * 1000 + c.elapsed.nanos / 1e6 : undefined;
      return { kind: "completion", jobId, sequence, outputs, elapsedMs };
    }
    default:
      return undefined; // a newer server's event: skipping it keeps old clients working
  }
}

/** One whole output of a job. */
export class Output {
  constructor(
    readonly index: number,
    readonly mediaKind: MediaKind,
    readonly mimeType: string,
    readonly metadata: Readonly<Record<string, string>>,
    readonly data: Uint8Array,
  ) {}

  /** The hex SHA-256 of `data`. */
  get sha256(): string {
    return createHash("sha256").update(this.data).digest("hex");
  }

  /** `data` as UTF-8 text (for text outputs). */
  text(): string {
    return new TextDecoder().decode(this.data);
  }

  /** Write `data` to `path`; returns the path. */
  async save(path: string): Promise<string> {
    await writeFile(path, this.data);
    return path;
  }
}

interface Pending {
  header: OutputHeaderEvent;
  chunks: Uint8Array[];
}

/**
 * Reassembles outputs from a transform's events.
 *
 * A header for an index already seen (the router restarted the job where the caller allowed it)
 * replaces that output: its earlier chunks are dropped. On completion every output is checked
 * against the summary's size and SHA-256.
 */
export class OutputAssembler {
  private readonly pending = new Map<number, Pending>();

  /** Take one event into account. */
  add(event: TransformEvent): void {
    if (event.kind === "outputHeader") {
      this.pending.set(event.index, { header: event, chunks: [] });
    } else if (event.kind === "outputChunk") {
      const output = this.pending.get(event.index);
      if (output === undefined) {
        throw new PrizmError(Code.DataLoss, `a chunk for output ${event.index} came before its header`, {
          reason: "OUTPUT_CORRUPTED",
        });
      }
      output.chunks.push(event.data);
    }
  }

  /** The whole outputs by index, checked against the completion's summaries. */
  outputs(completion: CompletionEvent): Output[] {
    const outputs = [...this.pending.values()]
      .sort((a, b) => a.header.index - b.header.index)
      .map(({ header, chunks }) => {
        const data = Buffer.concat(chunks);
        return new Output(header.index, header.mediaKind, header.mimeType, header.metadata, new Uint8Array(data));
      });
    for (const summary of completion.outputs) {
      const output = outputs.find((o) => o.index === summary.index);
      const intact = output && output.data.length === summary.sizeBytes && (!summary.sha256 || output.sha256 === summary.sha256);
      if (!intact) {
        throw new PrizmError(Code.DataLoss, `output ${summary.index} does not match its summary's size and hash`, {
          reason: "OUTPUT_CORRUPTED",
        });
      }
    }
    return outputs;
  }
}
