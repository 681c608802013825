// Stream a transform's progress and save its output:
//   node dist/examples/stream_and_save.js ROUTER CAPABILITY TEXT OUT_FILE [OPTIONS_JSON]
// e.g. node dist/examples/stream_and_save.js 127.0.0.1:50051 text-to-audio "hello there" hello.wav
// PRIZM_CALLER, if set, names the caller (the router's per-caller limits count by it).
// PRIZM_API_KEY, if set, is the caller's credential for a router with auth on.
import { OutputAssembler, PrizmClient, PrizmError } from "../src/index.js";

const [router, capability, text, outFile, optionsJson] = process.argv.slice(2);
if (!router || !capability || text === undefined || !outFile) {
  console.error("usage: stream_and_save.js ROUTER CAPABILITY TEXT OUT_FILE [OPTIONS_JSON]");
  process.exit(2);
}
const client = new PrizmClient(router, { caller: process.env.PRIZM_CALLER, apiKey: process.env.PRIZM_API_KEY });
const assembler = new OutputAssembler();
try {
  const request = { capability, inputs: [text], options: optionsJson ? JSON.parse(optionsJson) : undefined };
  for await (const event of client.transform(request)) {
    switch (event.kind) {
      case "progress": {
        const percent = event.fraction === undefined ? "" : `${Math.round(event.fraction * 100)}% `;
        console.log(`progress ${percent}${event.stage} ${event.message}`.trimEnd());
        break;
      }
      case "completion": {
        const [output] = assembler.outputs(event);
        if (output === undefined) {
          throw new Error("the job finished without an output");
        }
        await output.save(outFile);
        console.log(`saved ${output.data.length} bytes of ${output.mimeType} to ${outFile} sha256 ${output.sha256}`);
        break;
      }
      default:
        assembler.add(event);
    }
  }
} catch (error) {
  if (error instanceof PrizmError) {
    // The reason is stable: branch on it. retryDelayMs says whether (and when) trying again can help.
    const retry = error.retryDelayMs === undefined ? "" : ` retry after ${error.retryDelayMs} ms`;
    const fields = error.fieldViolations.map((v) => ` ${v.field}: ${v.description}`).join(";");
    // errorReason is the generated prizm.v1.ErrorReason value (undefined for a reason newer than it).
    console.error(`error ${error.reason} [ErrorReason ${error.errorReason}]${retry}${fields}`);
    process.exit(1);
  }
  throw error;
}
