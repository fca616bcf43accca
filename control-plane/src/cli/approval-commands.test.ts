import { decisionBody, listParams } from "./approval-commands.js";
import { NO_CONTROL_PLANE, recordingCliIo } from "../../../test/support/cli-io.js";
import { runWarden } from "./warden.js";

const ID = "3f0c4a2e-9d1b-4c6a-8f2e-1a2b3c4d5e6f";

const cli = () => recordingCliIo(NO_CONTROL_PLANE);

test("the list filters become the API's query: --agent by registry id or by SPIFFE ID", () => {
  expect(listParams({ state: "pending", server: "files", agent: ID })).toMatchObject({
    state: "pending",
    server: "files",
    agent_id: ID,
    agent_spiffe_id: undefined,
    limit: 100,
  });
  expect(listParams({ agent: "spiffe://warden.local/agent/bot" })).toMatchObject({
    agent_id: undefined,
    agent_spiffe_id: "spiffe://warden.local/agent/bot",
  });
  expect(() => listParams({ state: "waiting" })).toThrow(/--state must be one of pending, approved/);
  expect(() => listParams({ agent: "bot" })).toThrow(/--agent must be the agent's id/);
});

test("a decision's note is optional and bounded", () => {
  expect(decisionBody({})).toEqual({});
  expect(decisionBody({ note: "fine once" })).toEqual({ note: "fine once" });
  expect(() => decisionBody({ note: "x".repeat(1025) })).toThrow(/--note must be 1 to 1024/);
});

test.each([
  [["approvals", "approve"], /give exactly one approval id/],
  [["approvals", "approve", "abc"], /the approval id must be a UUID/],
  [["approvals", "reject", ID, ID], /give exactly one approval id/],
  [["approvals", "show"], /give exactly one approval id/],
  [["approvals", "list", "--state", "nope"], /--state must be one of/],
  [["approvals", "approve", ID, "--reason", "x"], /Unknown option '--reason'/],
])("warden %j is a usage error (exit 2) before anything is sent", async (argv, message) => {
  const { io, err } = cli();
  expect(await runWarden(argv, io)).toBe(2);
  expect(err.join("\n")).toMatch(message);
  expect(err.join("\n")).not.toMatch(/cannot reach the control plane/);
});

test("a valid command reaches for the control plane (and says where it could not)", async () => {
  const { io, err } = cli();
  expect(await runWarden(["approvals", "approve", ID, "--note", "ok"], io)).toBe(1);
  expect(err.join("\n")).toMatch(
    /warden approvals approve: cannot reach the control plane at http:\/\/127\.0\.0\.1:9/,
  );
});

test("the group's help lists its four commands", async () => {
  const { io, out } = cli();
  expect(await runWarden(["approvals", "--help"], io)).toBe(0);
  expect(
    out
      .join("\n")
      .split("\n")
      .map((l) => l.split(" ").slice(0, 3).join(" ")),
  ).toEqual([
    "usage: warden approvals",
    "usage: warden approvals",
    "usage: warden approvals",
    "usage: warden approvals",
  ]);
  expect(out.join("\n")).toMatch(/approvals list .*--state pending\|approved/);
  expect(out.join("\n")).toMatch(/approvals reject <approval-id> \[--note text\]/);
});
