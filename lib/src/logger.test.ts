import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { batchedDestination, createLogger, preShapedLine, STDOUT_FLUSH_MS } from "./logger.js";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  return { lines, logger: createLogger("test", "debug", stream) };
}

describe("createLogger", () => {
  it("redacts OAuth codes, states and tokens in URL fields of every line", () => {
    const { lines, logger } = capture();
    logger.info({ url: "/v1/connections/callback?code=C0DE-123&state=ST4TE-456" }, "request");
    logger.child({ request_id: "r1" }).warn({ path: "/x?access_token=T0KEN-789" }, "child line");
    const out = lines.join("");
    expect(out).not.toMatch(/C0DE-123|ST4TE-456|T0KEN-789/);
    expect(out).toContain("/v1/connections/callback?code=[REDACTED]&state=[REDACTED]");
  });

  it("censors secret fields nested one level down", () => {
    const { lines, logger } = capture();
    logger.info({ oauth: { client_secret: "CS-3", id_token: "IT-4", code_verifier: "CV-5" } }, "oauth");
    expect(lines.join("")).not.toMatch(/CS-3|IT-4|CV-5/);
  });

  it("leaves URLs without a query readable", () => {
    const { lines, logger } = capture();
    logger.info({ url: "/v1/agents/42" }, "request");
    expect(JSON.parse(lines[0]!)).toMatchObject({ url: "/v1/agents/42" });
  });
});

describe("credential fields on log lines", () => {
  it("censors credential headers two levels down and leaves the caller's object untouched", () => {
    const { lines, logger } = capture();
    const request = { headers: { authorization: "Bearer SEKRIT-1", "x-api-key": "K-2", accept: "json" } };
    logger.info({ request }, "req");
    const line = JSON.parse(lines[0]!) as { request: { headers: Record<string, string> } };
    expect(line.request.headers).toEqual({
      authorization: "[REDACTED]",
      "x-api-key": "[REDACTED]",
      accept: "json",
    });
    expect(request.headers.authorization).toBe("Bearer SEKRIT-1");
  });

  it("censors tokens and cookies one level down, in child bindings too", () => {
    const { lines, logger } = capture();
    logger
      .child({ session: { cookie: "C-3" } })
      .info({ grant: { refresh_token: "RT-4", token: "T-5" } }, "g");
    expect(lines.join("")).not.toMatch(/C-3|RT-4|T-5/);
  });

  it("keeps an error's message and code readable", () => {
    const { lines, logger } = capture();
    const err = Object.assign(new Error("connect refused"), { code: "ECONNREFUSED", token: "T-6" });
    logger.error({ err }, "failed");
    const line = JSON.parse(lines[0]!) as { err: { message: string; code: string; token?: string } };
    expect(line.err).toMatchObject({ message: "connect refused", code: "ECONNREFUSED" });
    expect(lines[0]).not.toContain("T-6");
  });
});

describe("stdout in batches", () => {
  const dir = mkdtempSync(join(tmpdir(), "warden-log-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("holds lines until the batch fills or the flush interval passes, then writes them, censored", async () => {
    const path = join(dir, "batched.log");
    const destination = batchedDestination(path);
    await new Promise((resolve) => destination.once("ready", resolve));
    const logger = createLogger("test", "info", destination);
    logger.info({ grant: { refresh_token: "RT-7" } }, "first");
    logger.info({ decision_id: "d-1" }, "second");
    expect(readFileSync(path, "utf8")).toBe("");
    await new Promise((resolve) => setTimeout(resolve, STDOUT_FLUSH_MS * 3));
    const lines = readFileSync(path, "utf8").trim().split("\n");
    expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(["first", "second"]);
    expect(lines[0]).not.toContain("RT-7");
    destination.end();
  });

  it("writes out whatever is waiting on a synchronous flush (what pino does when the process exits)", async () => {
    const path = join(dir, "exit.log");
    const destination = batchedDestination(path);
    await new Promise((resolve) => destination.once("ready", resolve));
    createLogger("test", "info", destination).warn({ grant: { token: "T-8" }, reason: "why" }, "last words");
    destination.flushSync();
    const line = readFileSync(path, "utf8");
    expect(JSON.parse(line)).toMatchObject({
      msg: "last words",
      grant: { token: "[REDACTED]" },
      reason: "why",
    });
    destination.end();
  });
});

describe("pre-shaped lines", () => {
  const FIELDS = ["decision_id", "allow", "status", "reason", "agent"] as const;

  it("are the line logger.info writes, bindings included", () => {
    const { lines, logger } = capture();
    const child = logger.child({ request_id: "r1" });
    const values = { decision_id: "d-1", allow: false, status: 403, reason: "no_grant", agent: null };
    preShapedLine(child, "info", "decision", FIELDS)(values);
    child.info(values, "decision");
    const [shaped, logged] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(shaped).toEqual({ ...logged, time: shaped!.time });
    expect(Object.keys(shaped!)).toEqual(Object.keys(logged!));
    expect(lines[0]!.endsWith("}\n")).toBe(true);
  });

  it("keep a hostile string a string: quotes, newlines and control characters cannot add a field or a line", () => {
    const { lines, logger } = capture();
    const reason = 'x","allow":true,"y":"\n{"level":60}\u0000\u2028é';
    preShapedLine(
      logger,
      "info",
      "decision",
      FIELDS,
    )({
      decision_id: "d-2",
      allow: false,
      status: Number.NaN,
      reason,
      agent: "spiffe://warden.local/agent/a",
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.trimEnd()).not.toContain("\n");
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ allow: false, status: null, reason });
  });

  it("refuse, when declared, a field the censor would touch (a credential or a URL)", () => {
    const { logger } = capture();
    expect(() => preShapedLine(logger, "info", "x", ["decision_id", "token"])).toThrow(/token/);
    expect(() => preShapedLine(logger, "info", "x", ["url"])).toThrow(/url/);
  });

  it("are not written below the logger's level", () => {
    const { lines, logger } = capture();
    logger.level = "warn";
    preShapedLine(logger, "info", "decision", ["decision_id"])({ decision_id: "d-3" });
    expect(lines).toEqual([]);
  });
});
