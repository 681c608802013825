// Prizm from Node with no generated code: @grpc/grpc-js + @grpc/proto-loader on protos/, and the
// status details decoded with protobufjs from the vendored third_party/googleapis/google/rpc.
//   node examples/grpc_js.mjs ROUTER CAPABILITY TEXT OUT_FILE [OPTIONS_JSON]
// PRIZM_CALLER, if set, is sent as the `prizm-caller` header. Exit 1 prints `error REASON ...`.
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";

const repo = fileURLToPath(new URL("../../..", import.meta.url));
const [router, capability, text, outFile, optionsJson] = process.argv.slice(2);

const definition = protoLoader.loadSync("prizm/v1/router_service.proto", {
  includeDirs: [`${repo}/protos`],
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const { RouterService } = grpc.loadPackageDefinition(definition).prizm.v1;
const client = new RouterService(router, grpc.credentials.createInsecure());

// google.rpc.Status and its details; protobufjs bundles google/protobuf/* itself.
const rpc = new protobuf.Root();
rpc.resolvePath = (_origin, target) =>
  target.startsWith("google/protobuf/") ? target : `${repo}/third_party/googleapis/${target}`;
rpc.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"]);
rpc.resolveAll();

/** The Prizm error of a failed call: reason, retry delay (ms) and field violations. */
function prizmError(error) {
  const found = { reason: grpc.status[error.code], retryDelayMs: undefined, violations: [] };
  const [bin] = error.metadata?.get("grpc-status-details-bin") ?? [];
  if (!bin) return found;
  for (const any of rpc.lookupType("google.rpc.Status").decode(bin).details) {
    const type = rpc.lookupType(any.type_url.split("/").pop());
    const detail = type.toObject(type.decode(any.value), { longs: Number });
    if (type.name === "ErrorInfo") found.reason = detail.reason;
    if (type.name === "RetryInfo") {
      const delay = detail.retryDelay ?? {};
      found.retryDelayMs = (delay.seconds ?? 0) * 1000 + Math.round((delay.nanos ?? 0) / 1e6);
    }
    if (type.name === "BadRequest") found.violations.push(...detail.fieldViolations);
  }
  return found;
}

const metadata = new grpc.Metadata();
if (process.env.PRIZM_CALLER) metadata.set("prizm-caller", process.env.PRIZM_CALLER);
const request = {
  capability: `CAPABILITY_${capability.toUpperCase().replace(/-/g, "_")}`,
  inputs: [{ kind: "MEDIA_KIND_TEXT", mimeType: "text/plain; charset=utf-8", data: Buffer.from(text) }],
  options: optionsJson ? toStruct(JSON.parse(optionsJson)) : undefined,
};

/** A JSON object as google.protobuf.Struct's fields, the shape proto-loader expects. */
function toStruct(object) {
  const value = (v) =>
    typeof v === "number" ? { numberValue: v }
    : typeof v === "string" ? { stringValue: v }
    : typeof v === "boolean" ? { boolValue: v }
    : v === null ? { nullValue: "NULL_VALUE" }
    : Array.isArray(v) ? { listValue: { values: v.map(value) } }
    : { structValue: toStruct(v) };
  return { fields: Object.fromEntries(Object.entries(object).map(([k, v]) => [k, value(v)])) };
}

const chunks = new Map();
let failed = false;
const call = client.Transform(request, metadata);
call.on("data", (event) => {
  if (event.event === "progress") {
    const fraction = event.progress.fraction;
    console.log(`progress ${fraction === undefined ? "" : `${Math.round(fraction * 100)}% `}${event.progress.stage}`.trimEnd());
  } else if (event.event === "outputHeader") {
    chunks.set(event.outputHeader.index, []); // a repeated header restarts that output
  } else if (event.event === "outputChunk") {
    chunks.get(event.outputChunk.index).push(event.outputChunk.data);
  }
});
call.on("error", (error) => {
  const found = prizmError(error);
  const retry = found.retryDelayMs === undefined ? "" : ` retry after ${found.retryDelayMs} ms`;
  const fields = found.violations.map((v) => ` ${v.field}: ${v.description}`).join(";");
  console.error(`error ${found.reason}${retry}${fields}`);
  process.exitCode = 1;
  failed = true;
  client.close();
});
call.on("end", async () => {
  if (failed) return;
  const data = Buffer.concat(chunks.get(0) ?? []);
  await writeFile(outFile, data);
  console.log(`saved ${data.length} bytes to ${outFile}`);
  client.close();
});
