import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { CancelledError, Client, DeadlineExceededError, type CantataError } from "../src/index.js";
import { env, inflight, LONG_TEXT, settledInflight } from "./helpers.js";

const client = new Client(env.target);
after(() => client.close());

describe("cancellation", () => {
  it("cancel() stops the synthesis on the server", async () => {
    assert.equal(await settledInflight(), 0, "something was running before the test");
    const stream = client.stream(LONG_TEXT, { encoding: "pcm" });
    let chunks = 0;
    for await (const _chunk of stream) {
      chunks += 1;
      assert.equal(await inflight(), 1, "the synthesis is not running on the server");
      stream.cancel();
    }
    assert.equal(chunks, 1);
    assert.equal(stream.stats, undefined);
    assert.equal(await settledInflight(), 0, "the server still runs the cancelled synthesis");
  });

  it("breaking out of the loop stops it too", async () => {
    const stream = client.stream(LONG_TEXT, { encoding: "wav" });
    for await (const _chunk of stream) {
      assert.equal(await inflight(), 1);
      break;
    }
    assert.equal(await settledInflight(), 0, "the server still runs the abandoned synthesis");
  });

  it("an AbortSignal cancels with CANCELLED", async () => {
    const controller = new AbortController();
    const stream = client.stream(LONG_TEXT, { encoding: "pcm", signal: controller.signal });
    await assert.rejects(
      (async () => {
        for await (const _chunk of stream) controller.abort();
      })(),
      CancelledError,
    );
    assert.equal(await settledInflight(), 0);
  });
});

describe("deadlines", () => {
  it("DEADLINE_EXCEEDED for a long text with a tiny deadline, unary", async () => {
    await assert.rejects(client.synthesize(LONG_TEXT, { timeoutMs: 100 }), (e: CantataError) => {
      assert.ok(e instanceof DeadlineExceededError, String(e));
      assert.equal(e.code, "DEADLINE_EXCEEDED");
      return true;
    });
    assert.equal(await settledInflight(), 0, "the server still runs past the deadline");
  });

  it("DEADLINE_EXCEEDED in a stream, from the client's default deadline", async () => {
    const hurried = new Client(env.target, { timeoutMs: 300 });
    try {
      await assert.rejects(
        hurried.stream(LONG_TEXT, { encoding: "pcm" }).bytes(),
        DeadlineExceededError,
      );
    } finally {
      hurried.close();
    }
    assert.equal(await settledInflight(), 0);
  });

  it("a deadline long enough lets the call finish", async () => {
    const result = await client.synthesize("Plenty of time.", { timeoutMs: 30_000 });
    assert.ok(result.audio.length > 44);
  });
});
