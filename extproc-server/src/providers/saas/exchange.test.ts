import { loadSaasCatalogue, type SaasService } from "../../../../lib/src/saas/catalogue.js";
import { SecretScrubber } from "../../credentials/scrub.js";
import type { OAuthEvent, RequestIdentity } from "../../oauth/events.js";
import type { UserTokens } from "../../oauth/user-tokens.js";
import {
  authzMetadata,
  handOffFields,
  readImmediate,
  readMutation,
  wire,
} from "../../testing/envoy-messages.js";
import { envoyReply as reply, processorWith } from "../../testing/processor.js";
import { SaasProvider } from "./provider.js";

const USER_TOKEN = "ya29.user-token-held-in-vault-0123456789";
const DRIVE_HANDOFF = handOffFields({ service: "google-drive", kind: "saas", scopes: ["google-drive:read"] });

class StubTokens {
  unauthorizedCalls: string[] = [];
  tokenFor(_service: SaasService, _identity: RequestIdentity): string {
    return USER_TOKEN;
  }
  async unauthorized(_service: SaasService, _identity: RequestIdentity, token: string): Promise<void> {
    this.unauthorizedCalls.push(token);
  }
  scrubber(): SecretScrubber {
    return new SecretScrubber([USER_TOKEN]);
  }
}

function setup() {
  const tokens = new StubTokens();
  const events: OAuthEvent[] = [];
  const provider = new SaasProvider({
    catalogue: loadSaasCatalogue(),
    tokens: tokens as unknown as UserTokens,
    events: { record: (event) => events.push(event) },
  });
  const stream = processorWith([provider]);
  return { tokens, events, stream };
}

const GET_FILES = {
  ":method": "GET",
  ":path": "/google-drive/drive/v3/files",
  authorization: "Bearer made-up-by-the-agent",
};

test("the agent's Authorization is replaced by the user's token, and the injection is audited", async () => {
  const { stream, events } = setup();
  const answer = await reply(
    stream.process(wire.requestHeaders(GET_FILES, { metadata: authzMetadata(DRIVE_HANDOFF) })),
  );
  const mutation = readMutation(answer.requestHeaders?.response?.headerMutation);
  expect(mutation.set.authorization).toBe(`Bearer ${USER_TOKEN}`);
  expect(events.map((e) => e.kind)).toEqual(["token_injected"]);
  expect(JSON.stringify(events)).not.toContain(USER_TOKEN);
});

test("no delegation in the hand-off: 403 delegation_required, nothing forwarded", async () => {
  const { stream } = setup();
  const metadata = authzMetadata({ ...DRIVE_HANDOFF, delegation_id: null, user_id: null, scopes: [] });
  const refusal = readImmediate(await stream.process(wire.requestHeaders(GET_FILES, { metadata })));
  expect(refusal).toMatchObject({
    status: 403,
    body: { error: { code: "delegation_required", decision_id: "dec-0001" } },
  });
});

test("a write with a read-only delegation: 403 delegation_scope_insufficient", async () => {
  const { stream } = setup();
  const refusal = readImmediate(
    await stream.process(
      wire.requestHeaders({ ...GET_FILES, ":method": "POST" }, { metadata: authzMetadata(DRIVE_HANDOFF) }),
    ),
  );
  expect(refusal).toMatchObject({ status: 403, body: { error: { code: "delegation_scope_insufficient" } } });
});

test("token fields and the token itself are stripped from a JSON answer; a 401 refreshes", async () => {
  const { stream, tokens } = setup();
  await reply(stream.process(wire.requestHeaders(GET_FILES, { metadata: authzMetadata(DRIVE_HANDOFF) })));
  const headers = await reply(
    stream.process(
      wire.responseHeaders({
        ":status": "401",
        "content-type": "application/json",
        "x-echo": `Bearer ${USER_TOKEN}`,
      }),
    ),
  );
  const mutation = readMutation(headers.responseHeaders?.response?.headerMutation);
  expect(mutation.set["x-echo"]).toBe("Bearer [REDACTED]");
  expect(mutation.set["x-warden-token-refreshed"]).toBe("true");
  expect(tokens.unauthorizedCalls).toEqual([USER_TOKEN]);
  const body = JSON.stringify({ error: { message: `bad token ${USER_TOKEN}` }, refresh_token: "1//another" });
  const answer = await reply(stream.process(wire.responseBody(body, true)));
  const sent = Buffer.from(answer.responseBody?.response?.bodyMutation?.body ?? new Uint8Array()).toString(
    "utf8",
  );
  expect(JSON.parse(sent)).toEqual({
    error: { message: "bad token [REDACTED]" },
    refresh_token: "[REDACTED]",
  });
});

test("a file download (not JSON) is streamed and scanned for the token too, even split across chunks", async () => {
  const { stream } = setup();
  await reply(stream.process(wire.requestHeaders(GET_FILES, { metadata: authzMetadata(DRIVE_HANDOFF) })));
  const headers = await reply(
    stream.process(wire.responseHeaders({ ":status": "200", "content-type": "application/octet-stream" })),
  );
  expect(headers.modeOverride?.responseBodyMode).toBe(1); // STREAMED
  const file = `\u0000PK${USER_TOKEN}\u0001`;
  const cut = file.indexOf(USER_TOKEN) + 7;
  const parts = [file.slice(0, cut), file.slice(cut)];
  const delivered: string[] = [];
  for (const [index, part] of parts.entries()) {
    const answer = await reply(stream.process(wire.responseBody(part, index === 1)));
    const mutation = answer.responseBody?.response?.bodyMutation;
    delivered.push(mutation ? Buffer.from(mutation.body ?? new Uint8Array()).toString("utf8") : part);
  }
  expect(delivered.join("")).toBe("\u0000PK[REDACTED]\u0001");
});
