import { CliError } from "./cli-error.js";
import { subscriptionBody } from "./webhook-commands.js";

test("add takes one URL and the event types, repeated or comma-separated", () => {
  expect(
    subscriptionBody(["https://hooks.example.com/w"], {
      events: ["agent.revoked,kya.approved", "budget.exceeded"],
    }),
  ).toEqual({
    url: "https://hooks.example.com/w",
    event_types: ["agent.revoked", "kya.approved", "budget.exceeded"],
  });
  expect(
    subscriptionBody(["https://h/w"], { events: ["audit.record"], description: "SIEM", tenant: "acme" }),
  ).toEqual({ url: "https://h/w", event_types: ["audit.record"], description: "SIEM", tenant: "acme" });
});

test("add without events, or with no URL or two, is a usage error", () => {
  expect(() => subscriptionBody(["https://h/w"], {})).toThrow(/--events is required/);
  expect(() => subscriptionBody([], { events: ["agent.revoked"] })).toThrow(CliError);
  expect(() => subscriptionBody(["https://a", "https://b"], { events: ["agent.revoked"] })).toThrow(
    /URL once/,
  );
});
