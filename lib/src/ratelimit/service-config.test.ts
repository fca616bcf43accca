import { parse } from "yaml";
import { rateLimitDefinitionSchema, type RateLimitDefinition } from "./definitions.js";
import { renderServiceConfig } from "./service-config.js";

const def = (overrides: Partial<RateLimitDefinition>): RateLimitDefinition => ({
  tenant: "acme",
  scope: "tenant",
  subject: "acme",
  unit: "requests",
  perMinute: 10_000,
  failureMode: "open",
  ...overrides,
});

describe("the rate-limit service's YAML", () => {
  test("nests each limit unit → scope → tenant → subject, as the sidecar sends its descriptors", () => {
    const yaml = renderServiceConfig([
      def({}),
      def({ scope: "team", subject: "support", perMinute: 600 }),
      def({ tenant: "globex", scope: "agent", subject: "spiffe://warden.local/agent/bot", perMinute: 60 }),
    ]);
    expect(parse(yaml)).toEqual({
      domain: "warden",
      descriptors: [
        {
          key: "unit",
          value: "requests",
          descriptors: [
            {
              key: "scope",
              value: "agent",
              descriptors: [
                {
                  key: "tenant",
                  value: "globex",
                  descriptors: [
                    {
                      key: "subject",
                      value: "spiffe://warden.local/agent/bot",
                      rate_limit: { unit: "minute", requests_per_unit: 60 },
                    },
                  ],
                },
              ],
            },
            {
              key: "scope",
              value: "team",
              descriptors: [
                {
                  key: "tenant",
                  value: "acme",
                  descriptors: [
                    {
                      key: "subject",
                      value: "support",
                      rate_limit: { unit: "minute", requests_per_unit: 600 },
                    },
                  ],
                },
              ],
            },
            {
              key: "scope",
              value: "tenant",
              descriptors: [
                { key: "tenant", value: "acme", rate_limit: { unit: "minute", requests_per_unit: 10_000 } },
              ],
            },
          ],
        },
      ],
    });
  });

  test("one tenant's limit never lands in another tenant's branch", () => {
    const parsed = parse(
      renderServiceConfig([
        def({ scope: "team", subject: "x" }),
        def({ tenant: "globex", scope: "team", subject: "x" }),
      ]),
    ) as { descriptors: { descriptors: { descriptors: { value: string }[] }[] }[] };
    expect(parsed.descriptors[0]!.descriptors[0]!.descriptors.map((d) => d.value)).toEqual([
      "acme",
      "globex",
    ]);
  });

  test("the same limits in any order render the same file (the service reloads on every change)", () => {
    const limits = [def({}), def({ scope: "route", subject: "openai", perMinute: 5 })];
    expect(renderServiceConfig(limits)).toBe(renderServiceConfig([...limits].reverse()));
  });

  test("no limits is still a valid file for the domain", () => {
    expect(parse(renderServiceConfig([]))).toEqual({ domain: "warden", descriptors: [] });
  });
});

describe("a rate-limit definition is refused with a reason when", () => {
  test.each([
    [{ scope: "tenant", subject: "globex" }, "a tenant limit's subject is the tenant itself"],
    [{ scope: "agent", subject: "bot" }, "an agent limit names the agent's SPIFFE ID"],
    [{ scope: "team", subject: "with space" }, "letters, digits"],
    [{ perMinute: 0 }, "greater than 0"],
  ])("%j", (overrides, reason) => {
    const result = rateLimitDefinitionSchema.safeParse(def(overrides as Partial<RateLimitDefinition>));
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain(reason);
  });
});
