import { Client, credentials, type ServiceError } from "@grpc/grpc-js";
import { auth, AuthorizationService, extProc } from "../../lib/src/envoy/services.js";
import {
  authzMetadata,
  encodeRequest,
  requestBodyRequest,
  requestHeadersRequest,
  responseBodyRequest,
  responseHeadersRequest,
  SAMPLE_HANDOFF,
} from "../../extproc-server/src/testing/envoy-messages.js";
import { ExchangeStream, healthCheck } from "../../extproc-server/src/testing/exchange-client.js";
import { startStack, type Stack } from "../harness/stack.js";
import { TEARDOWN_TIMEOUT_MS } from "../harness/process.js";

/**
 * A bounded fuzz run over both gRPC APIs, as a local attacker (or a broken proxy) could drive them:
 * random, truncated, bit-flipped and re-ordered messages, each carrying credentials in headers, the
 * query string and the body. Afterwards both servers still report SERVING, Envoy still serves a real
 * request, and no answer ever repeated one of the credentials. Seeded: a failure names its seed.
 */
const DURATION_MS = Number(process.env.WARDEN_FUZZ_MS ?? 20_000);
const SEED = Number(process.env.WARDEN_FUZZ_SEED ?? Date.now() % 1_000_000);
const SECRET = "sk-fuzz-secret-7Qm2Vd9";
const CHECK_PATH = AuthorizationService.check.path;

/** mulberry32: small, seeded, good enough to pick cases. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(SEED);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;

function randomBytes(max: number): Buffer {
  const out = Buffer.alloc(int(max));
  for (let i = 0; i < out.length; i++) out[i] = int(256);
  return out;
}

/** A valid frame, truncated, bit-flipped, or replaced by noise. */
function mangle(valid: Buffer): Buffer {
  switch (int(4)) {
    case 0:
      return valid;
    case 1:
      return valid.subarray(0, int(valid.length));
    case 2: {
      const copy = Buffer.from(valid);
      for (let i = 0; i < 1 + int(8) && copy.length > 0; i++) {
        const at = int(copy.length);
        copy[at] = copy[at]! ^ (1 << int(8));
      }
      return copy;
    }
    default:
      return randomBytes(512);
  }
}

const PATHS = [
  `/openai/v1/chat/completions?key=${SECRET}`,
  `/google-ai/v1beta/models/gemini:generateContent?access_token=${SECRET}&alt=sse`,
  "/github/user",
  "/%zz",
  "/" + "a".repeat(int(4000)),
];
const BODIES = [
  JSON.stringify({ model: "gpt-4o", api_key: SECRET, messages: [{ role: "user", content: SECRET }] }),
  "[".repeat(50_000),
  '{"model":',
  "",
];

function randomCheck(): Buffer {
  const bytes = auth.CheckRequest.encode({
    attributes: {
      source: { principal: pick(["", "spiffe://warden.local/agent/fuzz", "not a uri"]) },
      request: {
        http: {
          id: String(int(1e6)),
          method: pick(["GET", "POST", "DELETE", "", "\u0000"]),
          path: pick(PATHS),
          host: "127.0.0.1",
          headers: {
            authorization: `Bearer ${SECRET}`,
            "x-auth-token": SECRET,
            "content-type": pick(["application/json", "text/plain", ""]),
            "x-warden-delegation": pick(["", SECRET, "a.b.c"]),
          },
          rawBody: Buffer.from(pick(BODIES)),
        },
      },
      contextExtensions: pick<Record<string, string>>([
        { service: "openai", kind: "llm", path_prefix: "/openai/" },
        { service: "github", kind: "saas", path_prefix: "/github/" },
        {},
      ]),
    },
  }).finish();
  return mangle(Buffer.from(bytes));
}

function randomProcessing(): Buffer {
  const headers = {
    ":path": pick(PATHS),
    ":method": "POST",
    authorization: `Bearer ${SECRET}`,
    "x-api-key": SECRET,
  };
  const metadata = pick([
    authzMetadata(),
    authzMetadata({ ...SAMPLE_HANDOFF, tenant: "other-tenant" }),
    authzMetadata({ decision_id: 7, tenant: [] }),
    null,
  ]);
  const message = pick([
    () => requestHeadersRequest(headers, { metadata }),
    () => requestBodyRequest(pick(BODIES)),
    () =>
      responseHeadersRequest({
        ":status": "200",
        "set-cookie": `s=${SECRET}`,
        "content-type": "text/event-stream",
      }),
    () => responseBodyRequest(`data: ${SECRET}\n\n`),
    () => ({ requestTrailers: {} }),
  ])();
  return mangle(encodeRequest(message));
}

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ name: "grpc-fuzz" });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
}, TEARDOWN_TIMEOUT_MS);

interface Tally {
  calls: number;
  leaks: string[];
}

async function fuzzAuthz(client: Client, until: number, tally: Tally): Promise<void> {
  while (Date.now() < until) {
    const frame = randomCheck();
    const answer = await new Promise<string>((resolve) => {
      client.makeUnaryRequest(
        CHECK_PATH,
        (bytes: Buffer) => bytes,
        (bytes: Buffer) => bytes,
        frame,
        (error: ServiceError | null, reply?: Buffer) => {
          if (error) return resolve(`${error.code} ${error.details}`);
          // Protobuf strings and bytes travel as they are: a credential in the answer shows in its bytes.
          resolve(reply!.toString("latin1"));
        },
      );
    });
    tally.calls++;
    if (answer.includes(SECRET)) tally.leaks.push(`authz answered ${answer.slice(0, 300)}`);
  }
}

async function fuzzExtproc(client: Client, until: number, tally: Tally): Promise<void> {
  while (Date.now() < until) {
    const stream = ExchangeStream.openRaw(client);
    const replies: string[] = [];
    for (let i = 0, n = 1 + int(6); i < n; i++) {
      // A refused or ended stream answers nothing more: stop at its status or after a short wait.
      const reply = await Promise.race([
        stream.send(randomProcessing()).catch(() => null),
        stream.status.then(() => null),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 250).unref()),
      ]);
      if (reply === null) break;
      replies.push(Buffer.from(extProc.ProcessingResponse.encode(reply).finish()).toString("latin1"));
    }
    const status = await stream.close();
    tally.calls++;
    const answer = replies.join("\n") + status.details;
    if (answer.includes(SECRET)) tally.leaks.push(`extproc answered ${answer.slice(0, 300)}`);
  }
}

test(
  `fuzzing both gRPC APIs leaves them SERVING and never echoes a credential (seed ${SEED})`,
  async () => {
    const authz = new Client(stack.authz.address, credentials.createInsecure());
    const extproc = new Client(stack.extproc.address, credentials.createInsecure());
    const until = Date.now() + DURATION_MS;
    const tally: Tally = { calls: 0, leaks: [] };
    try {
      await Promise.all([
        fuzzAuthz(authz, until, tally),
        fuzzAuthz(authz, until, tally),
        fuzzExtproc(extproc, until, tally),
        fuzzExtproc(extproc, until, tally),
      ]);
      expect(tally.leaks).toEqual([]);
      expect(tally.calls).toBeGreaterThan(100);
      expect(await stack.authz.health()).toBe("SERVING");
      expect(await stack.extproc.health()).toBe("SERVING");
      expect(await healthCheck(extproc, "envoy.service.ext_proc.v3.ExternalProcessor")).toBe("SERVING");
      expect(stack.authz.process().running && stack.extproc.process().running).toBe(true);
      // And the data plane still answers a real request end to end.
      const res = await fetch(`${stack.agentUrl}/openai/v1/models`);
      expect(res.status).toBe(200);
      process.stdout.write(`grpc fuzz (seed ${SEED}): ${tally.calls} calls/streams in ${DURATION_MS} ms\n`);
    } finally {
      authz.close();
      extproc.close();
    }
  },
  DURATION_MS + 60_000,
);
