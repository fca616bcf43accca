import { Writable } from "node:stream";
import { createLogger } from "./logger.js";

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
