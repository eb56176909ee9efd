import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  Client,
  InvalidArgumentError,
  markText,
  NotFoundError,
  UnavailableError,
  type CantataError,
} from "../src/index.js";
import { decode, env, PIPER_RATE } from "./helpers.js";

const client = new Client(env.target);
after(() => client.close());

describe("voices", () => {
  it("lists the Piper voice at its own rate", async () => {
    const voices = await client.voices();
    const piper = voices.find((v) => v.model === "piper");
    assert.ok(piper, JSON.stringify(voices));
    assert.equal(piper.nativeSampleRateHz, PIPER_RATE);
    assert.equal(piper.isDefault, true);
    assert.equal(piper.capabilities.streaming, true);
  });

  it("answers NOT_FOUND for an unknown model", async () => {
    await assert.rejects(client.voices("no-such-model"), NotFoundError);
  });
});

describe("synthesize", () => {
  it("returns one WAV file that decodes at the voice's rate", async () => {
    const result = await client.synthesize("The quick brown fox jumps over the lazy dog.", {
      encoding: "wav",
    });
    assert.equal(Buffer.from(result.audio.subarray(0, 4)).toString("latin1"), "RIFF");
    assert.deepEqual(
      {
        rate: result.info.sampleRateHz,
        channels: result.info.channels,
        encoding: result.info.encoding,
      },
      { rate: PIPER_RATE, channels: 1, encoding: "wav" },
    );
    const decoded = decode(result.audio, "unary.wav");
    assert.equal(decoded.sample_rate, PIPER_RATE);
    assert.equal(decoded.channels, 1);
    assert.ok(decoded.seconds > 1, `only ${decoded.seconds} s`);
    assert.ok(Math.abs(decoded.seconds - result.info.durationSeconds) < 0.01);
    assert.ok(Math.abs(result.stats.audioSeconds - result.info.durationSeconds) < 0.01);
    assert.equal(result.stats.model, "piper");
    assert.ok(result.stats.requestId.length > 0);
    assert.equal(result.requestId, result.stats.requestId);
  });

  it("resamples to the rate asked for", async () => {
    const result = await client.synthesize("Sixteen thousand samples a second.", {
      encoding: "pcm",
      sampleRateHz: 16000,
    });
    assert.equal(result.info.sampleRateHz, 16000);
    assert.equal(result.info.encoding, "pcm");
    const seconds = result.audio.length / 2 / 16000;
    assert.ok(
      Math.abs(seconds - result.stats.audioSeconds) < 0.01,
      `${seconds} vs ${result.stats.audioSeconds}`,
    );
    const wav = await client.synthesize("Sixteen thousand samples a second.", {
      sampleRateHz: 16000,
    });
    assert.equal(decode(wav.audio, "16k.wav").sample_rate, 16000);
  });

  it("gives word marks that point back into the text by code points", async () => {
    const text = "🎉 Tea at the café, then home.";
    const result = await client.synthesize(text, { timing: { words: true } });
    const words = result.marks.filter((m) => m.kind === "word");
    assert.ok(words.length >= 5, JSON.stringify(result.marks));
    assert.ok(words.some((m) => m.value === "café"));
    for (const mark of words) assert.equal(markText(text, mark), mark.value);
    assert.ok(result.marks.every((m) => m.kind === "word"));
  });
});

describe("typed errors", () => {
  it("INVALID_ARGUMENT for empty text, with the request id", async () => {
    const error = await client.synthesize("").then(
      () => assert.fail("no error"),
      (e: unknown) => e as CantataError,
    );
    assert.ok(error instanceof InvalidArgumentError, String(error));
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.equal(error.status, 3);
    assert.match(error.details, /text/);
    assert.match(error.requestId ?? "", /^[0-9a-f]{32}$/);
  });

  it("UNAVAILABLE when no server answers", async () => {
    const nowhere = new Client("127.0.0.1:1");
    try {
      await assert.rejects(nowhere.synthesize("Hello."), UnavailableError);
    } finally {
      nowhere.close();
    }
  });

  it("NOT_FOUND for an unknown voice", async () => {
    await assert.rejects(
      client.synthesize("Hello.", { voice: "no-such-voice" }),
      (e: CantataError) => {
        assert.ok(e instanceof NotFoundError);
        assert.equal(e.code, "NOT_FOUND");
        assert.match(e.details, /no-such-voice/);
        return true;
      },
    );
  });

  it("INVALID_ARGUMENT for a bad sample rate, unary and streamed", async () => {
    await assert.rejects(client.synthesize("Hello.", { sampleRateHz: 1234 }), InvalidArgumentError);
    const stream = client.stream("Hello.", { sampleRateHz: 96000 });
    await assert.rejects(stream.bytes(), (e: CantataError) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.match(e.details, /sample_rate_hz/);
      return true;
    });
  });
});

describe("stream", () => {
  it("gives info before the first chunk and stats after the last", async () => {
    const stream = client.stream("First sentence here. And a second one after it.", {
      encoding: "pcm",
    });
    let chunks = 0;
    let bytes = 0;
    for await (const chunk of stream) {
      if (chunks === 0) {
        assert.ok(stream.info, "no info before the first chunk");
        assert.equal(stream.info.sampleRateHz, PIPER_RATE);
        assert.equal(stream.info.durationSeconds, 0);
      }
      assert.equal(stream.stats, undefined, "stats before the last chunk");
      chunks += 1;
      bytes += chunk.length;
    }
    assert.ok(chunks >= 2, `${chunks} chunks`);
    assert.ok(stream.stats, "no stats after the last chunk");
    assert.ok(Math.abs(bytes / 2 / PIPER_RATE - stream.stats.audioSeconds) < 0.01);
    assert.ok(stream.stats.timeToFirstAudioSeconds > 0);
  });

  it("joins Ogg/Opus pages into one file that decodes", async () => {
    const stream = client.stream("An Ogg file, sent a page at a time. It decodes as one.", {
      encoding: "ogg_opus",
    });
    const audio = await stream.bytes();
    assert.equal(Buffer.from(audio.subarray(0, 4)).toString("latin1"), "OggS");
    assert.equal(stream.info?.sampleRateHz, 48000);
    const decoded = decode(audio, "stream.ogg");
    assert.equal(decoded.sample_rate, 48000);
    assert.ok(stream.stats);
    assert.ok(
      Math.abs(decoded.seconds - stream.stats.audioSeconds) < 0.1,
      `${decoded.seconds} s decoded`,
    );
  });
});

describe("x-request-id", () => {
  it("is sent and read back from the server's metadata", async () => {
    const unary = await client.synthesize("Hello.", { requestId: "ts-client-1" });
    assert.equal(unary.requestId, "ts-client-1");
    assert.equal(unary.stats.requestId, "ts-client-1");
    const stream = client.stream("Hello.", { requestId: "ts-client-2" });
    await stream.bytes();
    assert.equal(stream.requestId, "ts-client-2");
    assert.equal(stream.stats?.requestId, "ts-client-2");
  });

  it("is the server's own when the one sent is not sane", async () => {
    const unary = await client.synthesize("Hello.", { requestId: "not a sane id!" });
    assert.match(unary.requestId ?? "", /^[0-9a-f]{32}$/);
    assert.equal(unary.requestId, unary.stats.requestId);
    await assert.rejects(
      client.synthesize("", { requestId: "still not sane!" }),
      (e: CantataError) => {
        assert.match(e.requestId ?? "", /^[0-9a-f]{32}$/);
        return true;
      },
    );
  });

  it("an error carries the id that was sent", async () => {
    await assert.rejects(client.synthesize("", { requestId: "ts-error-1" }), (e: CantataError) => {
      assert.equal(e.requestId, "ts-error-1");
      assert.match(e.message, /ts-error-1/);
      return true;
    });
  });
});
