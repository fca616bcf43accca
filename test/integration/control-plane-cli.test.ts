import { runWarden } from "../../control-plane/src/cli/warden.js";
import { startControlPlaneFixture, type ControlPlaneFixture } from "./control-plane-fixture.js";
import { TEARDOWN_TIMEOUT_MS } from "../harness/process.js";

/** The `warden` CLI against the real control plane (PostgreSQL, OpenBao, stub OIDC). */
let f: ControlPlaneFixture;
let tokens: Record<"admin" | "reviewer" | "creator" | "user", string>;

beforeAll(async () => {
  f = await startControlPlaneFixture({ vault: true });
  tokens = {
    admin: await f.token({ sub: "alice", roles: ["admin"] }),
    reviewer: await f.token({ sub: "rita", roles: ["reviewer"] }),
    creator: await f.token({ sub: "carl", roles: ["creator"] }),
    user: await f.token({ sub: "ursula", roles: ["user"], tenant: "acme" }),
  };
}, 120_000);

afterAll(async () => {
  await f?.close();
}, TEARDOWN_TIMEOUT_MS);

async function warden(as: keyof typeof tokens | null, ...argv: string[]) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const env: NodeJS.ProcessEnv = {
    WARDEN_API_URL: f.url,
    ...(as ? { WARDEN_TOKEN: tokens[as] } : {}),
    DATABASE_URL: f.databaseUrl!,
  };
  const code = await runWarden(argv, { env, stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) });
  return { code, out: stdout.join("\n"), err: stderr.join("\n") };
}

/** `warden agents create` for an assistant in tenant acme's dev environment, as "creator". */
function createAgent(name: string, team: string, ...flags: string[]) {
  const fields = ["--tenant", "acme", "--team", team, "--type", "assistant", "--environment", "dev"];
  return warden("creator", "agents", "create", "--name", name, ...fields, ...flags);
}

/** A new agent's id and SPIFFE ID. */
async function newAgent(name: string, capability: string): Promise<{ id: string; spiffe_id: string }> {
  return JSON.parse((await createAgent(name, "r", "--capability", capability, "--json")).out) as {
    id: string;
    spiffe_id: string;
  };
}

/** `warden kya approve` as the reviewer. */
function approve(attestationId: string, level: string, capability: string) {
  return warden("reviewer", "kya", "approve", attestationId, "--level", level, "--capability", capability);
}

test("register, list, suspend an agent; readable tables and --json", async () => {
  const capabilities = "llm:chat,github:repo.read";
  const created = await createAgent("cli-bot", "research", "--capability", capabilities, "--json");
  expect(created.code).toBe(0);
  const agent = JSON.parse(created.out) as { id: string; spiffe_id: string; capabilities: string[] };
  expect(agent).toMatchObject({
    spiffe_id: "spiffe://warden.local/agent/cli-bot",
    capabilities: ["llm:chat", "github:repo.read"],
  });

  const table = await warden("creator", "agents", "list", "--tenant", "acme");
  expect(table.out.split("\n")[0]).toMatch(
    /^ID\s+NAME\s+TENANT\s+TEAM\s+ENV\s+STATUS\s+CAPABILITIES\s+SPIFFE ID$/,
  );
  expect(table.out).toMatch(new RegExp(`${agent.id}\\s+cli-bot\\s+acme\\s+research\\s+dev\\s+active`));

  const suspended = await warden("reviewer", "agents", "suspend", agent.id);
  expect(suspended.code).toBe(0);
  expect(suspended.out).toMatch(/^status\s+suspended$/m);

  const duplicate = await createAgent("cli-bot", "research");
  expect(duplicate).toMatchObject({ code: 1 });
  expect(duplicate.err).toMatch(/409 conflict: an entry with this SPIFFE ID is already registered/);

  const invalid = await createAgent("Bad!", "r");
  expect(invalid.code).toBe(1);
  expect(invalid.err).toMatch(/400 bad_request.*\n\s+name: must match pattern/);
});

test("MCP servers with external services", async () => {
  const fields = "--name drive-mcp --tenant acme --team tools --type mcp --environment prod".split(" ");
  const service = ["--external-service", "google-drive"];
  const created = await warden("creator", "mcp-servers", "create", ...fields, ...service, "--json");
  expect(created.code).toBe(0);
  const list = await warden("creator", "mcp-servers", "list", "--external-service", "google-drive");
  expect(list.out).toMatch(/drive-mcp.*google-drive.*spiffe:\/\/warden\.local\/mcp\/drive-mcp/);
});

test("KYA from the command line: submit, approve, list, revoke", async () => {
  const agent = await newAgent("kya-cli-bot", "llm:chat");
  const submitted = await warden(
    "creator",
    "kya",
    "submit",
    agent.id,
    "--image-digest",
    `sha256:${"c".repeat(64)}`,
    "--endpoint",
    "https://api.openai.com/",
    "--checklist",
    "no_embedded_credentials,audit_logging",
    "--json",
  );
  expect(submitted.code).toBe(0);
  const attestation = JSON.parse(submitted.out) as {
    id: string;
    evidence: { security_checklist: Record<string, boolean> };
  };
  expect(attestation.evidence.security_checklist).toMatchObject({
    no_embedded_credentials: true,
    audit_logging: true,
    dependencies_scanned: false,
  });

  const approved = await approve(attestation.id, "2", "llm:chat");
  expect(approved.code).toBe(0);
  expect(approved.out).toMatch(/^status\s+approved$/m);
  expect(approved.out).toMatch(/^jws\s+eyJ/m);

  const listed = await warden("reviewer", "kya", "list", "--agent", agent.id);
  expect(listed.out).toMatch(new RegExp(`${attestation.id}\\s+${agent.id}\\s+approved\\s+2\\s+carl`));

  expect((await warden("reviewer", "kya", "revoke", attestation.id)).code).toBe(2); // --reason missing
  const revoked = await warden("reviewer", "kya", "revoke", attestation.id, "--reason", "key leaked");
  expect(revoked.out).toMatch(/^revocation_reason\s+key leaked$/m);
  expect((await warden("creator", "kya", "submit", agent.id, "--checklist", "vibes")).err).toMatch(
    /unknown checklist item/,
  );
});

test("delegations, usage and budgets from the command line", async () => {
  const agent = await newAgent("drive-cli-bot", "google-drive:read");
  const attestation = JSON.parse(
    (
      await warden(
        "creator",
        "kya",
        "submit",
        agent.id,
        "--image-digest",
        `sha256:${"d".repeat(64)}`,
        "--checklist",
        "no_embedded_credentials",
        "--json",
      )
    ).out,
  ) as { id: string };
  expect((await approve(attestation.id, "1", "google-drive:read")).code).toBe(0);

  const grant = (scope: string, ...flags: string[]) =>
    warden("user", "delegations", "grant", "--agent", agent.id, "--scope", scope, ...flags);
  const granted = await grant("google-drive:read", "--ttl", "2h");
  expect(granted.code).toBe(0);
  const [headline, howTo, token] = granted.out.split("\n");
  expect(headline).toMatch(
    new RegExp(`^delegation (\\S+) granted: google-drive:read to ${agent.spiffe_id} until `),
  );
  expect(howTo).toMatch(/x-warden-delegation \(shown once, not stored\)/);
  expect(token).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
  const id = /^delegation (\S+)/.exec(headline!)![1]!;

  const escalation = await grant("github:write");
  expect(escalation.code).toBe(1);
  expect(escalation.err).toMatch(/^warden delegations grant: 403 /);

  const listed = await warden("user", "delegations", "list");
  expect(listed.out.split("\n")[0]).toMatch(/^ID\s+USER\s+AGENT\s+SCOPES\s+STATUS\s+EXPIRES\s+REVOKED$/);
  expect(listed.out).toMatch(
    new RegExp(`${id}\\s+ursula\\s+${agent.spiffe_id}\\s+google-drive:read\\s+active`),
  );

  const revoked = await warden("user", "delegations", "revoke", id, "--reason", "done", "--json");
  expect(revoked.code).toBe(0);
  expect(JSON.parse(revoked.out)).toMatchObject({ id, status: "revoked", revocation_reason: "done" });
  const after = JSON.parse(
    (await warden("user", "delegations", "list", "--status", "revoked", "--json")).out,
  ) as {
    id: string;
  }[];
  expect(after.map((d) => d.id)).toContain(id);

  const usage = await warden("admin", "usage", "--tenant", "acme", "--group-by", "model");
  expect(usage.code).toBe(0);
  expect(usage.out.split("\n")[0]).toMatch(/^MODEL\s+REQUESTS\s+INPUT\s+OUTPUT\s+UNPRICED\s+COST USD$/);
  const totals = JSON.parse((await warden("admin", "usage", "--tenant", "acme", "--json")).out) as {
    totals: { requests: number };
  };
  expect(typeof totals.totals.requests).toBe("number");

  const created = await warden("admin", "budgets", "set", "--tenant", "acme", "--limit-usd", "250");
  expect(created.code).toBe(0);
  expect(created.out).toMatch(/^budget created\n/);
  expect(created.out).toMatch(/^limit_usd\s+250(\.0+)?$/m);
  const changed = await warden(
    "admin",
    "budgets",
    "set",
    "--tenant",
    "acme",
    "--limit-usd",
    "100",
    "--enforcement",
    "soft",
    "--json",
  );
  expect(changed.code).toBe(0);
  expect(JSON.parse(changed.out)).toMatchObject({
    scope: "tenant",
    subject: "acme",
    enforcement: "soft",
    version: 2,
  });
  const budgets = await warden("admin", "budgets", "list", "--tenant", "acme");
  expect(budgets.out.split("\n")).toHaveLength(2);
  expect(budgets.out).toMatch(/acme\s+tenant\s+acme\s+monthly\s+100(\.0+)?\s+\S+\s+soft$/m);
  expect((await warden("user", "budgets", "list")).err).toMatch(/^warden budgets list: 403 /);
});

test("audit: list, export and verify (through the API and directly against PostgreSQL)", async () => {
  const listed = await warden("admin", "audit", "list", "--action", "agent.suspended");
  expect(listed.out).toMatch(/agent\.suspended\s+rita\s+spiffe:\/\/warden\.local\/agent\/cli-bot/);
  const exported = await warden("admin", "audit", "export", "--tenant", "acme");
  const lines = exported.out.split("\n").map((l) => JSON.parse(l) as { tenant: string });
  expect(lines.length).toBeGreaterThanOrEqual(7);
  expect(lines.every((l) => l.tenant === "acme")).toBe(true);

  expect(await warden("admin", "audit", "verify")).toMatchObject({
    code: 0,
    out: expect.stringMatching(/^OK: audit chain intact \(\d+ rows, 1 tenants\)$/),
  });
  expect(await warden(null, "audit", "verify", "--direct")).toMatchObject({
    code: 0,
    out: expect.stringMatching(/^OK/),
  });

  const [victim] = await f.cluster!.sql<{ id: number; event_id: string; chain_seq: number }>(
    "SELECT id, event_id, chain_seq FROM audit_events WHERE action = 'kya.approved'",
    [],
    f.databaseUrl!.split("/").pop(),
  );
  await f.cluster!.sql(
    `BEGIN; SET LOCAL session_replication_role = replica; UPDATE audit_events SET details = '{"level": 3}' WHERE id = ${victim!.id}; COMMIT;`,
    [],
    f.databaseUrl!.split("/").pop(),
  );
  for (const argv of [
    ["audit", "verify"],
    ["audit", "verify", "--direct"],
  ]) {
    const broken = await warden("admin", ...argv);
    expect(broken.code).toBe(1);
    expect(broken.out).toBe(
      `BROKEN: tenant acme, row id ${victim!.id} (chain_seq ${victim!.chain_seq}, event ${victim!.event_id}): stored hash does not match the row's contents (row altered) [hash_mismatch]`,
    );
  }
});

test("usage and authentication errors are explained", async () => {
  expect(await warden("admin", "agents", "frobnicate")).toMatchObject({
    code: 2,
    err: expect.stringContaining("unknown command"),
  });
  expect(await warden("admin", "agents", "list", "--colour", "blue")).toMatchObject({
    code: 2,
    err: expect.stringContaining("--colour"),
  });
  expect(await warden(null, "agents", "list")).toMatchObject({
    code: 1,
    err: expect.stringContaining("set WARDEN_TOKEN"),
  });
  expect((await warden("admin", "help")).out).toMatch(/warden kya approve <attestation-id> --level/);
});
