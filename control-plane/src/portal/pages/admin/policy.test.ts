import { readFileSync } from "node:fs";
import { modelPolicyOf, renderModelPolicy, renderRevision } from "./policy.js";
import { flat } from "./flat-markup.js";

describe("policy page", () => {
  it("lists the shipped bundle's model allow-lists per level, and its aliases", () => {
    const data: unknown = JSON.parse(readFileSync("policies/data.json", "utf8"));
    const policy = modelPolicyOf(data);
    if ("error" in policy) throw new Error(policy.error);
    expect(policy.rules).toContainEqual({
      level: "team",
      subject: "support",
      provider: "openai",
      models: ["gpt-4o-mini"],
    });
    expect(policy.rules[0]).toMatchObject({ level: "global", subject: "" });
    expect(policy.aliases).toContainEqual({ provider: "openai", alias: "fast", model: "gpt-4o-mini" });
    expect(flat(renderModelPolicy(policy))).toContain("Team<code>support</code>");
  });

  it("reports a malformed model section instead of failing the page", () => {
    const policy = modelPolicyOf({ warden: { config: { models: { global: { openai: "gpt-4o" } } } } });
    expect("error" in policy && policy.error).toMatch(/malformed/);
    expect(flat(renderModelPolicy(policy))).toContain('role="alert"');
  });

  it("says where model lists live when the control plane has no bundle", () => {
    expect(flat(renderModelPolicy(null))).toContain("warden policy build");
  });

  it("shows the revision the data plane decides with, and a rollout in progress", () => {
    const out = flat(
      renderRevision({
        latest: { revision: "r2", decisions: 10, last_seen: "2026-12-08T01:00:00.000Z" },
        recent: [
          { revision: "r2", decisions: 10, last_seen: "2026-12-08T01:00:00.000Z" },
          { revision: "r1", decisions: 490, last_seen: "2026-12-08T00:59:00.000Z" },
        ],
        window: 500,
      }),
    );
    expect(out).toContain("<dd><code>r2</code></dd>");
    expect(out).toContain("used 2 revisions");
    expect(flat(renderRevision({ latest: null, recent: [], window: 500 }))).toContain(
      "No authorization decision",
    );
  });
});
