import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Client, markText, type LiveEvent, type Mark } from "../src/index.js";
import { env, LIVE_SESSIONS, metric, PIPER_RATE, settled, settledInflight } from "./helpers.js";

const client = new Client(env.target);
after(() => client.close());

describe("live sessions", () => {
  it("speaks text sent as deltas, then ends with stats", async () => {
    const live = client.live({ encoding: "pcm", requestId: "ts-live-1" });
    for (const delta of [
      "Hel",
      "lo there, ",
      "this text arri",
      "ves in pieces. ",
      "And it ends here.",
    ]) {
      live.send(delta);
    }
    live.close();
    let bytes = 0;
    let first = true;
    for await (const event of live) {
      if (first)
        assert.equal(live.info?.sampleRateHz, PIPER_RATE, "no info before the first event");
      first = false;
      assert.equal(live.stats, undefined, "stats before the last event");
      if (event.type === "audio") bytes += event.audio.length;
    }
    assert.ok(bytes > PIPER_RATE * 2, `only ${bytes} bytes`);
    assert.ok(live.stats, "no stats at the end");
    assert.ok(Math.abs(bytes / 2 / PIPER_RATE - live.stats.audioSeconds) < 0.01);
    assert.equal(live.requestId, "ts-live-1");
  });

  it("answers a flush with flushed once its audio is sent", async () => {
    const live = client.live({ encoding: "pcm" });
    const text = "Half a sentence";
    live.send(text);
    live.flush();
    const seen: LiveEvent["type"][] = [];
    for await (const event of live) {
      seen.push(event.type);
      if (event.type === "flushed") {
        assert.equal(event.textOffset, Array.from(text).length);
        assert.ok(event.audioSeconds > 0);
        live.close();
      }
    }
    assert.ok(
      seen.indexOf("audio") >= 0 && seen.indexOf("audio") < seen.indexOf("flushed"),
      seen.join(),
    );
    assert.ok(live.stats);
  });

  it("answers a cancel with cancelled, and stops speaking", async () => {
    const live = client.live({ encoding: "pcm" });
    const text = Array.from(
      { length: 30 },
      (_, i) => `Sentence ${i + 1} of a reply that is cut short.`,
    ).join(" ");
    live.send(text);
    let cancelled: Extract<LiveEvent, { type: "cancelled" }> | undefined;
    let asked = false;
    let audioAfterCancelled = 0;
    for await (const event of live) {
      if (event.type === "audio" && cancelled !== undefined) audioAfterCancelled += 1;
      if (event.type === "audio" && !asked) {
        asked = true;
        live.cancel();
        live.close();
      }
      if (event.type === "cancelled") cancelled = event;
    }
    assert.ok(cancelled, "no cancelled event");
    assert.equal(audioAfterCancelled, 0, "audio of the cancelled utterance after cancelled");
    assert.ok(cancelled.textOffset < Array.from(text).length, `${cancelled.textOffset}`);
    assert.ok(cancelled.utteranceAudioSeconds > 0);
    assert.ok(live.stats);
    assert.ok(live.stats.audioSeconds < 30, `${live.stats.audioSeconds} s spoken`);
    assert.equal(await settledInflight(), 0);
  });

  it("sends word marks that point into the session's text", async () => {
    const live = client.live({ encoding: "pcm", timing: { words: true } });
    const deltas = ["🎉 Hel", "lo there. ", "How are y", "ou today?"];
    for (const delta of deltas) live.send(delta);
    live.close();
    const text = deltas.join("");
    const words: Mark[] = [];
    for await (const event of live) if (event.type === "marks") words.push(...event.marks);
    assert.ok(words.length >= 6, JSON.stringify(words));
    assert.ok(words.every((m) => m.kind === "word"));
    for (const mark of words) assert.equal(markText(text, mark), mark.value);
    assert.deepEqual(
      words.filter((m) => /\p{L}/u.test(m.value)).map((m) => m.value),
      ["Hello", "there", "How", "are", "you", "today"],
    );
  });

  it("abort() ends the session on both sides", async () => {
    const live = client.live({ encoding: "pcm" });
    live.send("Some words to start speaking. And more words after them, so it goes on.");
    for await (const event of live) {
      if (event.type !== "audio") continue;
      assert.equal(await metric(LIVE_SESSIONS), 1, "no live session open on the server");
      live.abort();
    }
    assert.equal(live.stats, undefined);
    assert.throws(() => live.send("more"), /closed/);
    assert.equal(await settled(LIVE_SESSIONS), 0, "the session is still open on the server");
    assert.equal(await settledInflight(), 0);
  });
});
