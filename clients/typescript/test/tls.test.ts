import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { Client, UnauthenticatedError, UnavailableError } from "../src/index.js";
import { env, PIPER_RATE } from "./helpers.js";

async function withClient<T>(client: Client, use: (client: Client) => Promise<T>): Promise<T> {
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

describe("TLS and API keys", () => {
  it("works with the CA file and the right key", async () => {
    const client = new Client(env.tlsTarget, { tls: { caFile: env.tlsCa }, apiKey: env.apiKey });
    await withClient(client, async () => {
      const result = await client.synthesize("Over TLS.", { requestId: "ts-tls-1" });
      assert.equal(result.info.sampleRateHz, PIPER_RATE);
      assert.equal(result.requestId, "ts-tls-1");
      const streamed = await client.stream("Streamed over TLS.").bytes();
      assert.ok(streamed.length > 44);
      assert.ok((await client.voices()).length > 0);
    });
  });

  it("takes the CA as PEM text too", async () => {
    const ca = readFileSync(env.tlsCa, "utf8");
    const client = new Client(env.tlsTarget, { tls: { ca }, apiKey: env.apiKey });
    await withClient(client, async () =>
      assert.ok((await client.synthesize("Hello.")).audio.length > 44),
    );
  });

  it("UNAUTHENTICATED with a wrong key", async () => {
    const client = new Client(env.tlsTarget, { tls: { caFile: env.tlsCa }, apiKey: "not-the-key" });
    await withClient(client, async () => {
      await assert.rejects(client.synthesize("Hello."), (e: UnauthenticatedError) => {
        assert.ok(e instanceof UnauthenticatedError, String(e));
        assert.equal(e.code, "UNAUTHENTICATED");
        return true;
      });
      await assert.rejects(client.stream("Hello.").bytes(), UnauthenticatedError);
    });
  });

  it("UNAUTHENTICATED with no key", async () => {
    const client = new Client(env.tlsTarget, { tls: { caFile: env.tlsCa } });
    await withClient(client, () =>
      assert.rejects(client.synthesize("Hello."), UnauthenticatedError),
    );
  });

  it("refuses a server its CAs do not vouch for", async () => {
    const client = new Client(env.tlsTarget, { tls: true, apiKey: env.apiKey });
    await withClient(client, () => assert.rejects(client.synthesize("Hello."), UnavailableError));
  });
});
