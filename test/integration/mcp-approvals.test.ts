import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PostgresApprovalGate } from "../../authz-server/src/approvals/gate.js";
import { runWarden } from "../../control-plane/src/cli/warden.js";
import { AuditWriter } from "../../lib/src/audit/writer.js";
import { createPostgresDatabase } from "../../lib/src/db/postgres.js";
import type { Database } from "../../lib/src/db/types.js";
import { newDecisionId } from "../../lib/src/ids.js";
import { createLogger } from "../../lib/src/logger.js";
import type { ApprovalBinding, ApprovalResolution } from "../../lib/src/mcp/approval.js";
import { argumentsDigest } from "../../lib/src/mcp/digest.js";
import { dataPlaneLogin } from "../harness/control-plane.js";
import { freePort, TEARDOWN_TIMEOUT_MS } from "../harness/process.js";
import { startControlPlaneFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";

/**
 * Human approval bound to one exact MCP call, on the real PostgreSQL and the real control plane:
 * the gate runs as authz-server runs it (the data plane's database login, the audit writer), people
 * decide through the API and the CLI. What a user notices: an approved call passes once, only the
 * identical call passes, lapsed requests need a new decision, and nobody but the delegating user or
 * an admin of the tenant can approve (the data plane least of all).
 */
type Approval = {
  id: string;
  state: string;
  tenant: string | null;
  user_id: string | null;
  server: string;
  name: string;
  expires_at: string;
  decided_by: string | null;
  decision_note: string | null;
  used_at: string | null;
  used_decision_id: string | null;
};
type ErrorReply = {
  error: { code: string; message: string; details?: { field: string; message: string }[] };
};
type Page = { items: Approval[]; next_cursor: string | null };

const APPROVED_TTL_S = 120;
let f: ControlPlaneFixture;
let owner: Database;
let dataPlane: Database;
let audit: AuditWriter;
let gate: PostgresApprovalGate;
let spoolDir: string;
let tokens: Record<"ursula" | "ulrich" | "admin" | "globexAdmin" | "reviewer", string>;

const AGENT = "spiffe://warden.local/agent/files-bot";
const AGENT_ID = randomUUID();

/** The held call the tests approve, unless a test names another (a fresh delegation each time). */
function call(overrides: Partial<ApprovalBinding> & { args?: unknown } = {}): ApprovalBinding {
  const { args, ...rest } = overrides;
  return {
    agentSpiffeId: AGENT,
    agentId: AGENT_ID,
    tenant: "acme",
    delegationId: randomUUID(),
    userId: "ursula",
    server: "files",
    method: "tools/call",
    name: "delete_file",
    argumentsDigest: argumentsDigest(args ?? { path: "/reports/q3.pdf" }),
    decisionId: newDecisionId(),
    ...rest,
  };
}

/** The same call made again: a new decision id, everything else identical. */
const retry = (binding: ApprovalBinding): ApprovalBinding => ({ ...binding, decisionId: newDecisionId() });

function heldId(resolution: ApprovalResolution): string {
  if (resolution.state !== "held") throw new Error(`expected held, got ${JSON.stringify(resolution)}`);
  return resolution.approvalId;
}

const approve = (id: string, token = tokens.ursula, note?: string) =>
  f.call<Approval & ErrorReply>("POST", `/v1/approvals/${id}/approve`, {
    token,
    ...(note ? { body: { note } } : {}),
  });
const reject = (id: string, token = tokens.ursula) =>
  f.call<Approval & ErrorReply>("POST", `/v1/approvals/${id}/reject`, { token });

async function rowOf(id: string): Promise<Record<string, unknown>> {
  const { rows } = await owner.query("SELECT * FROM mcp_approvals WHERE id = $1", [id]);
  return rows[0]!;
}

async function auditOf(id: string) {
  await audit.delivered();
  const { rows } = await owner.query<{
    action: string;
    source: string;
    actor: string | null;
    agent_spiffe_id: string | null;
    user_id: string | null;
    delegation_id: string | null;
    decision_id: string | null;
    details: Record<string, unknown>;
  }>(
    `SELECT action, source, actor, agent_spiffe_id, user_id, delegation_id, decision_id, details
       FROM audit_events WHERE resource_type = 'mcp_approval' AND resource_id = $1 ORDER BY occurred_at, id`,
    [id],
  );
  return rows;
}

beforeAll(async () => {
  f = await startControlPlaneFixture({ env: { WARDEN_APPROVAL_APPROVED_TTL_S: String(APPROVED_TTL_S) } });
  owner = createPostgresDatabase(f.databaseUrl!);
  dataPlane = createPostgresDatabase(await dataPlaneLogin(f.cluster!, f.databaseUrl!), {
    statementTimeoutMs: 5_000,
  });
  spoolDir = mkdtempSync(join(tmpdir(), "warden-approvals-spool-"));
  audit = await AuditWriter.open({ db: dataPlane, spoolPath: join(spoolDir, "spool.ndjson") });
  gate = new PostgresApprovalGate({
    db: dataPlane,
    publicUrl: `${f.url}/`,
    pendingTtlSeconds: 900,
    // Generous: the test machine is shared; the deadline itself is tested below with its own gate.
    timeoutMs: 5_000,
    audit: (event) => audit.submitTyped(event, (error) => console.error(error)),
    logger: createLogger("approval-gate", "warn"),
  });
  tokens = {
    ursula: await f.token({ sub: "ursula", roles: ["user"], tenant: "acme" }),
    ulrich: await f.token({ sub: "ulrich", roles: ["user"], tenant: "acme" }),
    admin: await f.token({ sub: "ada-admin", roles: ["admin"], tenant: "acme" }),
    globexAdmin: await f.token({ sub: "gus-admin", roles: ["admin"], tenant: "globex" }),
    reviewer: await f.token({ sub: "rita", roles: ["reviewer"], tenant: "acme" }),
  };
}, 120_000);

afterAll(async () => {
  await audit?.close();
  await dataPlane?.close();
  await owner?.close();
  await f?.close();
  if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
}, TEARDOWN_TIMEOUT_MS);

describe("an approved call passes once, and only the identical call", () => {
  test("a held call opens one pending request with a link; its retries are held on the same request", async () => {
    const binding = call();
    const first = await gate.resolve(binding);
    expect(first).toEqual({
      state: "held",
      approvalId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      url: `${f.url}/v1/approvals/${heldId(first)}`,
      expiresAt: expect.any(String),
    });
    const lifetime = Date.parse((first as { expiresAt: string }).expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(890_000);
    expect(lifetime).toBeLessThanOrEqual(900_000);
    expect(heldId(await gate.resolve(retry(binding)))).toBe(heldId(first));

    const shown = await f.call<Approval>("GET", `/v1/approvals/${heldId(first)}`, { token: tokens.ursula });
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({
      id: heldId(first),
      state: "pending",
      tenant: "acme",
      agent_spiffe_id: AGENT,
      agent_id: AGENT_ID,
      delegation_id: binding.delegationId,
      user_id: "ursula",
      server: "files",
      method: "tools/call",
      name: "delete_file",
      arguments_digest: binding.argumentsDigest,
      requested_decision_id: binding.decisionId,
      decided_by: null,
    });
  });

  test("approved by the delegating user: the retry passes, the retry after that is held on a new request", async () => {
    const binding = call();
    const id = heldId(await gate.resolve(binding));
    const before = Date.now();
    const approved = await approve(id, tokens.ursula, "once is fine");
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({
      id,
      state: "approved",
      decided_by: "ursula",
      decision_note: "once is fine",
    });
    // The approval must be used within the approved window, not the pending one.
    const window = Date.parse(approved.body.expires_at) - before;
    expect(window).toBeGreaterThan((APPROVED_TTL_S - 5) * 1000);
    expect(window).toBeLessThanOrEqual((APPROVED_TTL_S + 1) * 1000);

    const passing = retry(binding);
    expect(await gate.resolve(passing)).toEqual({ state: "approved", approvalId: id });
    const again = heldId(await gate.resolve(retry(binding)));
    expect(again).not.toBe(id);

    expect(await rowOf(id)).toMatchObject({ state: "used", used_decision_id: passing.decisionId });
    const shown = await f.call<Approval>("GET", `/v1/approvals/${id}`, { token: tokens.ursula });
    expect(shown.body).toMatchObject({ state: "used", used_decision_id: passing.decisionId });
    expect(
      (await f.call<Approval>("GET", `/v1/approvals/${again}`, { token: tokens.ursula })).body.state,
    ).toBe("pending");
  });

  test("another argument, agent, delegation, tool, method or server is held on its own request, and the approval stays unused", async () => {
    const binding = call();
    const id = heldId(await gate.resolve(binding));
    expect((await approve(id)).status).toBe(200);
    const others = [
      { ...binding, argumentsDigest: argumentsDigest({ path: "/reports/q4.pdf" }) },
      { ...binding, agentSpiffeId: "spiffe://warden.local/agent/other-bot" },
      { ...binding, delegationId: randomUUID() },
      { ...binding, delegationId: null, userId: null },
      { ...binding, name: "delete_folder" },
      { ...binding, method: "prompts/get" },
      { ...binding, server: "files-mirror" },
    ];
    const held = [];
    for (const other of others) held.push(heldId(await gate.resolve(retry(other))));
    expect(new Set([id, ...held]).size).toBe(others.length + 1);
    expect((await rowOf(id)).state).toBe("approved");
    // The arguments are compared in canonical form: the same object with its keys in another order is the same call.
    const reordered = call({ ...binding, args: { path: "/reports/q3.pdf" } });
    expect(await gate.resolve({ ...reordered, delegationId: binding.delegationId })).toEqual({
      state: "approved",
      approvalId: id,
    });
  });

  test("concurrent identical calls: one request is created, and an approval lets exactly one of them through", async () => {
    const binding = call();
    const holds = await Promise.all(Array.from({ length: 12 }, () => gate.resolve(retry(binding))));
    const ids = new Set(holds.map(heldId));
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];
    const { rows } = await owner.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM mcp_approvals WHERE delegation_id = $1",
      [binding.delegationId],
    );
    expect(rows[0]!.n).toBe(1);
    expect((await auditOf(id)).filter((e) => e.action === "mcp.approval.requested")).toHaveLength(1);

    expect((await approve(id)).status).toBe(200);
    const racing = await Promise.all(Array.from({ length: 8 }, () => gate.resolve(retry(binding))));
    expect(racing.filter((r) => r.state === "approved")).toEqual([{ state: "approved", approvalId: id }]);
    // The losers are held, all on one new request.
    expect(new Set(racing.filter((r) => r.state === "held").map(heldId)).size).toBe(1);
  });
});

test("held, held again, approved: what the gate answers and how long it takes on the real PostgreSQL (times printed)", async () => {
  const answers: string[] = [];
  const timed = async (run: () => Promise<ApprovalResolution>) => {
    const started = performance.now();
    answers.push((await run()).state);
    return performance.now() - started;
  };
  const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const opened: number[] = [];
  const again: number[] = [];
  const passed: number[] = [];
  for (let i = 0; i < 30; i++) {
    const binding = call();
    opened.push(await timed(() => gate.resolve(binding)));
    again.push(await timed(() => gate.resolve(retry(binding))));
    const id = heldId(await gate.resolve(retry(binding)));
    await owner.query(
      "UPDATE mcp_approvals SET state = 'approved', decided_by = 'ursula', decided_at = now() WHERE id = $1",
      [id],
    );
    passed.push(await timed(() => gate.resolve(retry(binding))));
  }
  const figures = {
    new_request_ms: median(opened).toFixed(2),
    held_again_ms: median(again).toFixed(2),
    approved_passes_ms: median(passed).toFixed(2),
  };
  process.stdout.write(`approval gate medians over 30 calls: ${JSON.stringify(figures)}\n`);
  expect(answers).toEqual(Array.from({ length: 30 }, () => ["held", "held", "approved"]).flat());
});

describe("expiry", () => {
  test("a request nobody decided in time cannot be approved (409 expired), and the next call opens a new one", async () => {
    const binding = call();
    const id = heldId(await gate.resolve(binding));
    await owner.query("UPDATE mcp_approvals SET expires_at = now() - interval '1 second' WHERE id = $1", [
      id,
    ]);
    expect((await f.call<Approval>("GET", `/v1/approvals/${id}`, { token: tokens.ursula })).body.state).toBe(
      "expired",
    );
    const late = await approve(id);
    expect(late.status).toBe(409);
    expect(late.body.error.details).toEqual([{ field: "state", message: "expired" }]);
    expect(late.body.error.message).toMatch(/expired before a decision/);
    expect((await rowOf(id)).state).toBe("expired");
    const fresh = heldId(await gate.resolve(retry(binding)));
    expect(fresh).not.toBe(id);
    expect((await auditOf(id)).map((e) => [e.action, e.source])).toEqual([
      ["mcp.approval.requested", "authz-server"],
      ["mcp.approval.expired", "control-plane"],
    ]);
  });

  test("an approval not used within its window lapses: the retry is held on a new request", async () => {
    const binding = call();
    const id = heldId(await gate.resolve(binding));
    expect((await approve(id)).status).toBe(200);
    await owner.query("UPDATE mcp_approvals SET expires_at = now() - interval '1 second' WHERE id = $1", [
      id,
    ]);
    const fresh = heldId(await gate.resolve(retry(binding)));
    expect(fresh).not.toBe(id);
    expect((await rowOf(id)).state).toBe("expired");
    const trail = await auditOf(id);
    expect(trail.map((e) => [e.action, e.source])).toEqual([
      ["mcp.approval.requested", "authz-server"],
      ["mcp.approval.approved", "control-plane"],
      ["mcp.approval.expired", "authz-server"],
    ]);
    expect(trail[2]!.details).toMatchObject({ was: "approved", approval_id: id });
  });
});

describe("rejection", () => {
  test("a rejected call stays refused; its retry opens a new request for a new decision", async () => {
    const binding = call();
    const id = heldId(await gate.resolve(binding));
    const rejected = await reject(id);
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({ state: "rejected", decided_by: "ursula" });
    const fresh = heldId(await gate.resolve(retry(binding)));
    expect(fresh).not.toBe(id);
    const twice = await approve(id);
    expect(twice.status).toBe(409);
    expect(twice.body.error.details).toEqual([{ field: "state", message: "rejected" }]);
    expect((await rowOf(id)).state).toBe("rejected");
  });
});

describe("who decides", () => {
  test("another user of the tenant, or a reviewer, is refused (403); another tenant's admin finds nothing (404)", async () => {
    const id = heldId(await gate.resolve(call()));
    for (const token of [tokens.ulrich, tokens.reviewer]) {
      const refused = await approve(id, token);
      expect(refused.status).toBe(403);
      expect(refused.body.error.message).toMatch(
        /only the user the call was made for, or an admin of the tenant/,
      );
      expect((await reject(id, token)).status).toBe(403);
      expect((await f.call("GET", `/v1/approvals/${id}`, { token })).status).toBe(403);
    }
    expect((await approve(id, tokens.globexAdmin)).status).toBe(404);
    expect((await f.call("GET", `/v1/approvals/${id}`, { token: tokens.globexAdmin })).status).toBe(404);
    expect((await approve(id, "not-a-token")).status).toBe(401);
    expect((await rowOf(id)).state).toBe("pending");
  });

  test("an admin of the tenant decides, and the audit names who", async () => {
    const binding = call();
    const id = heldId(await gate.resolve(binding));
    const approved = await approve(id, tokens.admin);
    expect(approved.status).toBe(200);
    expect(approved.body.decided_by).toBe("ada-admin");
    await gate.resolve(retry(binding));
    const trail = await auditOf(id);
    expect(trail.map((e) => e.action)).toEqual([
      "mcp.approval.requested",
      "mcp.approval.approved",
      "mcp.approval.used",
    ]);
    const facts = {
      approval_id: id,
      server: "files",
      method: "tools/call",
      name: "delete_file",
      arguments_digest: binding.argumentsDigest,
    };
    for (const event of trail) {
      expect(event).toMatchObject({
        agent_spiffe_id: AGENT,
        user_id: "ursula",
        delegation_id: binding.delegationId,
        details: expect.objectContaining(facts),
      });
      // The digest, never the arguments.
      expect(JSON.stringify(event)).not.toContain("q3.pdf");
    }
    expect(trail[0]).toMatchObject({ source: "authz-server", actor: AGENT, decision_id: binding.decisionId });
    expect(trail[1]).toMatchObject({ source: "control-plane", actor: "ada-admin" });
    expect(trail[1]!.details).toMatchObject({ decided_by: "ada-admin" });
    expect(trail[2]).toMatchObject({ source: "authz-server", actor: AGENT });
  });

  test("users list the calls made for them; admins the tenant's, filtered by state and server", async () => {
    const mine = heldId(await gate.resolve(call({ server: "crm" })));
    const theirs = heldId(await gate.resolve(call({ server: "crm", userId: "ulrich" })));
    const list = (token: string, query: string) =>
      f.call<Page>("GET", `/v1/approvals?${query}`, { token }).then((r) => r.body.items.map((a) => a.id));
    expect(await list(tokens.ursula, "server=crm&state=pending")).toEqual([mine]);
    expect(await list(tokens.ulrich, "server=crm")).toEqual([theirs]);
    expect(await list(tokens.admin, "server=crm&state=pending")).toEqual([mine, theirs]);
    expect(await list(tokens.admin, "server=crm&state=approved")).toEqual([]);
    expect(await list(tokens.globexAdmin, "server=crm")).toEqual([]);
    expect((await f.call("GET", "/v1/approvals?user_id=ulrich", { token: tokens.ursula })).status).toBe(403);
    // Paging like the other lists.
    const first = await f.call<Page>("GET", "/v1/approvals?server=crm&limit=1", { token: tokens.admin });
    expect(first.body.items.map((a) => a.id)).toEqual([mine]);
    const second = await f.call<Page>(
      "GET",
      `/v1/approvals?server=crm&limit=1&cursor=${first.body.next_cursor!}`,
      { token: tokens.admin },
    );
    expect(second.body.items.map((a) => a.id)).toEqual([theirs]);
  });

  test("the CLI lists, shows and approves; a second approval says why not", async () => {
    const binding = call({ server: "wiki", name: "publish_page" });
    const id = heldId(await gate.resolve(binding));
    const run = async (...argv: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runWarden(argv, {
        env: { WARDEN_API_URL: f.url, WARDEN_TOKEN: tokens.ursula, WARDEN_HOME: "/nonexistent" },
        stdout: (line) => out.push(line),
        stderr: (line) => err.push(line),
      });
      return { code, out: out.join("\n"), err: err.join("\n") };
    };
    const listed = await run("approvals", "list", "--state", "pending", "--server", "wiki");
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(
      new RegExp(
        `^ID +STATE +AGENT +USER +SERVER +METHOD +TOOL +EXPIRES\\n${id} +pending +${AGENT} +ursula +wiki +tools/call +publish_page `,
      ),
    );
    const shown = await run("approvals", "show", id, "--json");
    expect(JSON.parse(shown.out)).toMatchObject({
      id,
      state: "pending",
      arguments_digest: binding.argumentsDigest,
    });
    const approved = await run("approvals", "approve", id, "--note", "ok");
    expect(approved).toMatchObject({ code: 0, err: "" });
    expect(approved.out).toMatch(
      `approval ${id} approved: the agent's next identical tools/call publish_page on wiki passes once, until `,
    );
    const again = await run("approvals", "reject", id);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(
      `warden approvals reject: 409 conflict: approval ${id} cannot be decided: it is already approved`,
    );
  });
});

describe("the data plane cannot approve", () => {
  test("its database login can neither approve a request nor write who decided, nor read the decision", async () => {
    const id = heldId(await gate.resolve(call()));
    await expect(
      dataPlane.query("UPDATE mcp_approvals SET state = 'approved' WHERE id = $1", [id]),
    ).rejects.toThrow(/violates check constraint "mcp_approvals_decided"/);
    await expect(
      dataPlane.query("UPDATE mcp_approvals SET decided_by = 'agent', decided_at = now() WHERE id = $1", [
        id,
      ]),
    ).rejects.toThrow(/permission denied/);
    await expect(
      dataPlane.query("UPDATE mcp_approvals SET state = 'used', used_at = now() WHERE id = $1", [id]),
    ).rejects.toThrow(/cannot move from pending to used/);
    await expect(
      dataPlane.query(
        `INSERT INTO mcp_approvals (agent_spiffe_id, server, method, name, arguments_digest, requested_decision_id,
                                    expires_at, state, decided_by, decided_at)
         VALUES ($1, 'files', 'tools/call', 'x', 'sha256:00', 'd', now() + interval '1 hour', 'approved', 'me', now())`,
        [AGENT],
      ),
    ).rejects.toThrow(/permission denied/);
    await expect(dataPlane.query("SELECT decided_by, decision_note FROM mcp_approvals")).rejects.toThrow(
      /permission denied/,
    );
    await expect(dataPlane.query("DELETE FROM mcp_approvals WHERE id = $1", [id])).rejects.toThrow(
      /permission denied/,
    );
    expect(await rowOf(id)).toMatchObject({ state: "pending", decided_by: null });
  });

  test("a used or rejected approval cannot be brought back, by anyone", async () => {
    const binding = call();
    const id = heldId(await gate.resolve(binding));
    await approve(id);
    await gate.resolve(retry(binding));
    await expect(
      owner.query("UPDATE mcp_approvals SET state = 'approved' WHERE id = $1", [id]),
    ).rejects.toThrow(/cannot move from used to approved/);
  });
});

describe("an unreachable approval store refuses quickly, never hangs", () => {
  test("nothing listening: unavailable", async () => {
    const port = await freePort();
    const down = createPostgresDatabase(`postgresql://warden_authz@127.0.0.1:${port}/none`, {
      connectTimeoutMs: 1_000,
    });
    try {
      const dead = new PostgresApprovalGate({
        db: down,
        publicUrl: f.url,
        pendingTtlSeconds: 900,
        timeoutMs: 150,
      });
      const started = Date.now();
      expect(await dead.resolve(call())).toEqual({
        state: "unavailable",
        detail: "the approval store is unavailable",
      });
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await down.close();
    }
  });

  test("a server that accepts and never answers: unavailable at the deadline", async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => sockets.add(socket));
    const port = await freePort();
    await new Promise<void>((resolve) => silent.listen(port, "127.0.0.1", resolve));
    const hung = createPostgresDatabase(`postgresql://warden_authz@127.0.0.1:${port}/none`, {
      connectTimeoutMs: 5_000,
    });
    try {
      const gateOnHung = new PostgresApprovalGate({
        db: hung,
        publicUrl: f.url,
        pendingTtlSeconds: 900,
        timeoutMs: 150,
      });
      const started = Date.now();
      expect(await gateOnHung.resolve(call())).toEqual({
        state: "unavailable",
        detail: "the approval store did not answer in time",
      });
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(140);
      expect(took).toBeLessThan(1_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await hung.close().catch(() => undefined);
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

test("every approvals operation in the OpenAPI document was exercised with a documented status", () => {
  const ours = f.operations.filter((op) => op.path.startsWith("/v1/approvals")).map((op) => op.operationId);
  expect(ours.sort()).toEqual(["approveApproval", "getApproval", "listApprovals", "rejectApproval"]);
  expect(ours.filter((id) => !f.covered.has(id))).toEqual([]);
});
