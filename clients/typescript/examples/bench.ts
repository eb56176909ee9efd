#!/usr/bin/env node
// bench --server 127.0.0.1:50051 --requests N "text"
// Makes N StreamSynthesize calls one after another (PCM, the default voice) and prints, per call,
// one JSON line: the seconds from starting the call to its first audio chunk and to its end,
// measured here with a monotonic clock.
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { CantataError, Client } from "../src/index.js";

const USAGE = `usage: bench --server HOST:PORT [--requests N] "text"`;

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        server: { type: "string", default: "127.0.0.1:50051" },
        requests: { type: "string", default: "1" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
    });
  } catch (error) {
    console.error(`bench: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const requests = Number(values.requests);
  if (positionals.length !== 1 || !Number.isInteger(requests) || requests < 1) {
    console.error(USAGE);
    return 2;
  }
  const text = positionals[0] ?? "";
  const client = new Client(values.server);
  try {
    for (let i = 0; i < requests; i++) {
      const start = performance.now();
      let firstAudio: number | undefined;
      const stream = client.stream(text, { encoding: "pcm" });
      for await (const chunk of stream) {
        if (firstAudio === undefined && chunk.length > 0) firstAudio = performance.now();
      }
      const end = performance.now();
      if (firstAudio === undefined) {
        console.error(`bench: request ${i + 1} ended without audio`);
        return 1;
      }
      const line = {
        first_audio_seconds: (firstAudio - start) / 1000,
        total_seconds: (end - start) / 1000,
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    }
    return 0;
  } catch (error) {
    console.error(`bench: ${error instanceof CantataError ? error.message : String(error)}`);
    return 1;
  } finally {
    client.close();
  }
}

process.exitCode = await main();
