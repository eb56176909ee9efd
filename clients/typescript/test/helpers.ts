// The servers the suite runs against (see tests/clients/servers.py) and checks on what they say.
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

function required(name: string): string {
  const value = process.env[name];
  if (!value)
    throw new Error(`${name} is not set: run the suite through clients/typescript/test.sh`);
  return value;
}

export const env = {
  target: required("CANTATA_TARGET"),
  metricsUrl: required("CANTATA_METRICS_URL"),
  tlsTarget: required("CANTATA_TLS_TARGET"),
  tlsCa: required("CANTATA_TLS_CA"),
  apiKey: required("CANTATA_API_KEY"),
  audioCheck: required("CANTATA_AUDIO_CHECK"),
};

/** The Piper voice's own rate. */
export const PIPER_RATE = 22050;

/** About ten seconds of work for the server (4,700 characters of its 5,000). */
export const LONG_TEXT = Array.from(
  { length: 60 },
  (_, i) => `This is sentence number ${i + 1}, and it goes on for a little while longer.`,
).join(" ");

export interface Decoded {
  sample_rate: number;
  channels: number;
  seconds: number;
}

const scratch = mkdtempSync(join(tmpdir(), "cantata-ts-"));

/** Writes the audio to a file and decodes it with the suite's checker (FFmpeg). */
export function decode(audio: Uint8Array, name: string): Decoded {
  const path = join(scratch, name);
  writeFileSync(path, audio);
  const output = execFileSync("sh", ["-c", `${env.audioCheck} "$1"`, "sh", path], {
    encoding: "utf8",
  });
  return JSON.parse(output) as Decoded;
}

export const INFLIGHT = 'cantata_inflight_requests{model="piper"}';
export const LIVE_SESSIONS = "cantata_live_sessions";

/** A sample of the server's metrics now, named with its labels as the exposition writes it. */
export async function metric(name: string): Promise<number> {
  const text = await (await fetch(env.metricsUrl)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no ${name} in the server's metrics`);
  return Number(line.split(" ").at(-1));
}

export const inflight = (): Promise<number> => metric(INFLIGHT);

/**
 * Polls until the metric is 0; the value last seen (0 unless the wait ran out). A synthesis the
 * server was not told to stop never gets there: its reader has stopped, so it blocks on flow
 * control; the bound only leaves room for a slow machine.
 */
export async function settled(name: string, limitMs = 10_000): Promise<number> {
  const until = Date.now() + limitMs;
  let value = await metric(name);
  while (value !== 0 && Date.now() < until) {
    await sleep(50);
    value = await metric(name);
  }
  return value;
}

/** Polls until nothing runs. */
export const settledInflight = (): Promise<number> => settled(INFLIGHT);
