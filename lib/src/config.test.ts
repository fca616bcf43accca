import { inspect } from "node:util";
import { z } from "zod";
import { ConfigError, env, fieldDocs, loadConfig } from "./config.js";

const shape = {
  SAMPLE_LISTEN: env.listenAddress("127.0.0.1:9000").describe("Where it listens."),
  SAMPLE_TOKEN: env.secret("A bearer token."),
  SAMPLE_URL: env.url().describe("Required URL."),
  SAMPLE_FLAG: env.bool(false).describe("A switch."),
  SAMPLE_MOUNT: env.vaultMount("transit").describe("A mount."),
  SAMPLE_OPTIONAL: z.string().optional().describe("Maybe."),
};

describe("configuration from the environment", () => {
  test("a secret is validated, then prints as [REDACTED] everywhere but reveal()", () => {
    const config = loadConfig(shape, { SAMPLE_TOKEN: "s3cr3t-value", SAMPLE_URL: "https://x.example" });
    expect(config.SAMPLE_TOKEN?.reveal()).toBe("s3cr3t-value");
    expect(JSON.stringify(config)).not.toContain("s3cr3t-value");
    expect(inspect(config)).not.toContain("s3cr3t-value");
    expect(`${config.SAMPLE_TOKEN}`).toBe("[REDACTED]");
  });

  test("every wrong value is one line naming the variable; a secret's value is never echoed", () => {
    let problems: string[] = [];
    try {
      loadConfig(
        { ...shape, SAMPLE_TOKEN: env.secret("A Vault token.", /^hvs\./) },
        {
          SAMPLE_TOKEN: "s3cr3t-value",
          SAMPLE_LISTEN: "nowhere",
          SAMPLE_MOUNT: "a b",
        },
      );
    } catch (error) {
      if (error instanceof ConfigError) problems = error.problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(/^SAMPLE_LISTEN: must be host:port .*\(got "nowhere"\)$/),
      expect.stringMatching(/^SAMPLE_TOKEN: /),
      expect.stringMatching(/^SAMPLE_URL: .*\(not set\)$/),
      expect.stringMatching(/^SAMPLE_MOUNT: .*\(got "a b"\)$/),
    ]);
    expect(problems.join("\n")).not.toContain("s3cr3t-value");
  });

  test("each field documents itself: description, default, whether it is required or secret", () => {
    expect(fieldDocs(shape)).toEqual([
      {
        name: "SAMPLE_LISTEN",
        description: "Where it listens.",
        required: false,
        fallback: "127.0.0.1:9000",
        secret: false,
      },
      { name: "SAMPLE_TOKEN", description: "A bearer token.", required: false, fallback: null, secret: true },
      { name: "SAMPLE_URL", description: "Required URL.", required: true, fallback: null, secret: false },
      { name: "SAMPLE_FLAG", description: "A switch.", required: false, fallback: "false", secret: false },
      { name: "SAMPLE_MOUNT", description: "A mount.", required: false, fallback: "transit", secret: false },
      { name: "SAMPLE_OPTIONAL", description: "Maybe.", required: false, fallback: null, secret: false },
    ]);
  });
});
