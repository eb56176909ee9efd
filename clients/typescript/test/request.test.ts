// The exact requests the client sends and the errors it raises, without a server.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { AudioEncoding, SynthesizeRequestSchema } from "../src/gen/cantata/tts/v1/tts_pb.js";
import {
  CantataError,
  InternalError,
  ResourceExhaustedError,
  UnavailableError,
  markText,
} from "../src/index.js";
import { toCantataError } from "../src/errors.js";
import { buildRequest } from "../src/options.js";

describe("buildRequest", () => {
  it("names every option as the proto does", () => {
    const request = buildRequest("Hello.", {
      model: "dia",
      voice: "v1",
      speaker: "S2",
      encoding: "ogg_opus",
      sampleRateHz: 24000,
      speed: 1.25,
      sampling: {
        temperature: 0.5,
        topP: 0.9,
        topK: 40,
        cfgScale: 3,
        seed: 7,
        maxAudioSeconds: 12,
        steps: 16,
      },
      promptAudio: new Uint8Array([1, 2, 3]),
      promptText: "the prompt",
      instructions: "warmly",
      timing: { words: true, visemes: true },
    });
    const expected = create(SynthesizeRequestSchema, {
      text: "Hello.",
      model: "dia",
      voice: "v1",
      speaker: "S2",
      encoding: AudioEncoding.OGG_OPUS,
      sampleRateHz: 24000,
      speed: 1.25,
      sampling: {
        temperature: 0.5,
        topP: 0.9,
        topK: 40,
        cfgScale: 3,
        seed: 7n,
        maxAudioSeconds: 12,
        steps: 16,
      },
      promptAudio: new Uint8Array([1, 2, 3]),
      promptText: "the prompt",
      instructions: "warmly",
      timing: { words: true, phonemes: false, visemes: true },
    });
    assert.deepEqual(
      toBinary(SynthesizeRequestSchema, request),
      toBinary(SynthesizeRequestSchema, expected),
    );
  });

  it("sends WAV, the voice's rate and no sampling parameters by default", () => {
    const request = buildRequest("Hi.");
    assert.equal(request.encoding, AudioEncoding.WAV);
    assert.equal(request.sampleRateHz, 0);
    assert.equal(request.timing, undefined);
    assert.deepEqual(
      toBinary(SynthesizeRequestSchema, request),
      toBinary(
        SynthesizeRequestSchema,
        create(SynthesizeRequestSchema, { text: "Hi.", encoding: AudioEncoding.WAV, sampling: {} }),
      ),
    );
  });

  it("refuses an encoding it does not know", () => {
    assert.throws(() => buildRequest("Hi.", { encoding: "aiff" as "wav" }), TypeError);
  });
});

describe("errors", () => {
  it("carry the code, the server's message and its request id", () => {
    const metadata = new Headers({ "x-request-id": "abc", "grpc-retry-pushback-ms": "250" });
    const error = toCantataError(
      new ConnectError("model 'piper' is busy", Code.ResourceExhausted, metadata),
      "sent",
    );
    assert.ok(error instanceof ResourceExhaustedError);
    assert.ok(error instanceof CantataError);
    assert.equal(error.code, "RESOURCE_EXHAUSTED");
    assert.equal(error.status, 8);
    assert.equal(error.details, "model 'piper' is busy");
    assert.equal(error.requestId, "abc");
    assert.equal(error.retryAfterMs, 250);
    assert.equal(error.message, "RESOURCE_EXHAUSTED: model 'piper' is busy (request abc)");
  });

  it("fall back to the request id sent", () => {
    assert.equal(toCantataError(new ConnectError("x", Code.Internal), "sent").requestId, "sent");
    assert.ok(toCantataError(new ConnectError("x", Code.Internal)) instanceof InternalError);
  });

  it("call a failed TLS handshake UNAVAILABLE, as gRPC does", () => {
    const handshake = Object.assign(new Error("unable to verify the first certificate"), {
      code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    });
    const error = toCantataError(
      new ConnectError(handshake.message, Code.Internal, undefined, undefined, handshake),
    );
    assert.ok(error instanceof UnavailableError, String(error));
  });

  it("keep codes without a class of their own", () => {
    const error = toCantataError(new ConnectError("no", Code.PermissionDenied));
    assert.equal(error.constructor, CantataError);
    assert.equal(error.code, "PERMISSION_DENIED");
  });
});

describe("markText", () => {
  it("counts code points, not UTF-16 units", () => {
    assert.equal(markText("🎉 Tea for 👩‍👩‍👧 two", { textOffset: 2, textLength: 3 }), "Tea");
    assert.equal(markText("🎉 Tea for 👩‍👩‍👧 two", { textOffset: 16, textLength: 3 }), "two");
  });
});
