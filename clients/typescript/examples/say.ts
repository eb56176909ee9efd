#!/usr/bin/env node
// say --server 127.0.0.1:50051 [--voice V] [--rate HZ] -o out.wav "text"
// Streams the speech into a file as it arrives; a WAV's sizes are fixed once it has all come.
import { open } from "node:fs/promises";
import { parseArgs } from "node:util";
import { CantataError, Client, type Encoding } from "../src/index.js";

const USAGE = `usage: say [--server HOST:PORT] [--model M] [--voice V] [--speaker S] [--rate HZ]
           [--speed X] [--encoding E] [--timeout SECONDS] [--tls-ca FILE] [--api-key KEY]
           -o OUT "text"
The API key defaults to $CANTATA_API_KEY; the encoding to the output's suffix, else wav.`;

const BY_SUFFIX: Record<string, Encoding> = {
  ".wav": "wav",
  ".flac": "flac",
  ".ogg": "ogg_opus",
  ".opus": "ogg_opus",
  ".mp3": "mp3",
  ".pcm": "pcm",
  ".raw": "pcm",
};

function encodingOf(output: string, named: string | undefined): Encoding {
  if (named) return named as Encoding;
  const suffix = output.slice(output.lastIndexOf(".")).toLowerCase();
  return BY_SUFFIX[suffix] ?? "wav";
}

/** A streamed WAV header says 0xFFFFFFFF for both sizes; a finished file can state them. */
function wavSizes(fileSize: number): [Buffer, Buffer] {
  const riff = Buffer.alloc(4);
  riff.writeUInt32LE(fileSize - 8);
  const data = Buffer.alloc(4);
  data.writeUInt32LE(fileSize - 44);
  return [riff, data];
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      server: { type: "string", default: "127.0.0.1:50051" },
      model: { type: "string", default: "" },
      voice: { type: "string", default: "" },
      speaker: { type: "string", default: "" },
      rate: { type: "string", default: "0" },
      speed: { type: "string", default: "0" },
      encoding: { type: "string" },
      timeout: { type: "string" },
      "tls-ca": { type: "string" },
      "api-key": { type: "string" },
      output: { type: "string", short: "o" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
  if (values.help || positionals.length !== 1 || !values.output) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const output = values.output;
  const encoding = encodingOf(output, values.encoding);
  const tlsCa = values["tls-ca"];
  const client = new Client(values.server, {
    ...(tlsCa ? { tls: { caFile: tlsCa } } : {}),
    apiKey: values["api-key"] || process.env["CANTATA_API_KEY"] || undefined,
    ...(values.timeout ? { timeoutMs: Number(values.timeout) * 1000 } : {}),
  });
  const file = await open(output, "w");
  try {
    const stream = client.stream(positionals[0] ?? "", {
      model: values.model,
      voice: values.voice,
      speaker: values.speaker,
      encoding,
      sampleRateHz: Number(values.rate),
      speed: Number(values.speed),
    });
    let size = 0;
    for await (const chunk of stream) {
      await file.write(chunk);
      size += chunk.length;
    }
    if (encoding === "wav" && size >= 44) {
      const [riff, data] = wavSizes(size);
      await file.write(riff, 0, 4, 4);
      await file.write(data, 0, 4, 40);
    }
    const stats = stream.stats;
    if (stats) {
      console.error(
        `${stats.audioSeconds.toFixed(2)} s of audio from ${stats.model}/${stats.voice} in ` +
          `${stats.computeSeconds.toFixed(2)} s (real-time factor ${stats.realTimeFactor.toFixed(3)}, ` +
          `first audio after ${(stats.timeToFirstAudioSeconds * 1000).toFixed(0)} ms)`,
      );
    }
    return 0;
  } catch (error) {
    if (!(error instanceof CantataError)) throw error;
    console.error(`say: ${error.message}`);
    return 1;
  } finally {
    await file.close();
    client.close();
  }
}

process.exitCode = await main();
