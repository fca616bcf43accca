import { ApiClient } from "./api-client.js";
import { approvalCommands } from "./approval-commands.js";
import { auditCommands } from "./audit-commands.js";
import { CliError } from "./cli-error.js";
import { parseFlags, type CliIo, type CommandSpec } from "./command.js";
import { delegationCommands } from "./delegation-commands.js";
import { initCommands } from "./init-commands.js";
import { kyaCommands } from "./kya-commands.js";
import { mcpCommands } from "./mcp-commands.js";
import { agentOnboardingCommands, llmKeyCommands } from "./onboarding-commands.js";
import { runPolicyCommand } from "./policy-commands.js";
import { registryCommands } from "./registry-commands.js";
import { RUNTIME_COMMANDS, RUNTIME_USAGE, runRuntimeCommand } from "./runtime-commands.js";
import { runSpireCommand } from "./spire-commands.js";
import { tenantCommands } from "./tenant-commands.js";
import { budgetCommands, usageCommand } from "./usage-commands.js";
import { webhookCommands } from "./webhook-commands.js";

/**
 * `warden <group> <command> [flags]`: the control-plane CLI. Tables by default, `--json` for
 * scripts. Exit codes: 0 done, 1 refused or failed (or `audit verify` found tampering), 2 usage.
 */
const GROUPS: Record<string, Record<string, CommandSpec>> = {
  agents: registryCommands("agents"),
  "mcp-servers": registryCommands("mcp-servers"),
  mcp: mcpCommands,
  kya: kyaCommands,
  agent: agentOnboardingCommands,
  "llm-key": llmKeyCommands,
  audit: auditCommands,
  delegations: delegationCommands,
  approvals: approvalCommands,
  budgets: budgetCommands,
  tenants: tenantCommands,
  webhooks: webhookCommands,
  init: initCommands,
};
/** Commands that are a group on their own: `warden usage [flags]`. */
const SINGLE: Record<string, CommandSpec> = { usage: usageCommand };

export function usage(): string {
  const lines = [RUNTIME_USAGE, "", "usage: warden <group> <command> [flags] [--json]", ""];
  for (const [group, commands] of Object.entries(GROUPS)) {
    for (const [name, spec] of Object.entries(commands))
      lines.push(`  warden ${group} ${name} ${spec.usage}`);
  }
  for (const [name, spec] of Object.entries(SINGLE)) lines.push(`  warden ${name} ${spec.usage}`);
  lines.push("  warden spire ...                (SPIRE registration entries; warden spire --help)");
  lines.push(
    "  warden policy ...               (test | build | sign | push policy bundles; warden policy --help)",
  );
  lines.push(
    "",
    "environment: WARDEN_API_URL (default http://127.0.0.1:8081), WARDEN_TOKEN or WARDEN_TOKEN_FILE",
  );
  return lines.join("\n");
}

export async function runWarden(argv: readonly string[], io: CliIo): Promise<number> {
  const [group, name, ...rest] = argv;
  if (group === "spire") return runSpireCommand(argv.slice(1), io);
  if (group === "policy") return runPolicyCommand(argv.slice(1), io);
  if ((RUNTIME_COMMANDS as readonly string[]).includes(group ?? ""))
    return runRuntimeCommand(group!, argv.slice(1), io);
  if (group === undefined || group === "help" || group === "--help" || group === "-h") {
    io.stdout(usage());
    return group === undefined ? 2 : 0;
  }
  if (GROUPS[group] && (name === "--help" || name === "-h")) {
    io.stdout(
      Object.entries(GROUPS[group])
        .map(([command, spec]) => `usage: warden ${group} ${command} ${spec.usage} [--json]`)
        .join("\n"),
    );
    return 0;
  }
  const single = SINGLE[group];
  const spec = single ?? GROUPS[group]?.[name ?? ""];
  if (!spec) {
    io.stderr(`warden: unknown command "${[group, name].filter(Boolean).join(" ")}"\n${usage()}`);
    return 2;
  }
  const command = single ? group : `${group} ${name}`;
  const args = single ? argv.slice(1) : rest;
  if (args.includes("--help") || args.includes("-h")) {
    io.stdout(`usage: warden ${command} ${spec.usage} [--json]`);
    return 0;
  }
  try {
    const { values, positionals } = parseFlags(args, { ...spec.options, json: { type: "boolean" } });
    const json = values.json === true;
    const code = await spec.run({
      io,
      values,
      positionals,
      client: () => ApiClient.fromEnv(io.env),
      print: (value, human) => io.stdout(json ? JSON.stringify(value, null, 2) : human(value)),
    });
    return typeof code === "number" ? code : 0;
  } catch (error) {
    if (error instanceof CliError) {
      io.stderr(
        `warden ${command}: ${error.message}${error.exitCode === 2 ? `\nusage: warden ${command} ${spec.usage}` : ""}`,
      );
      return error.exitCode;
    }
    io.stderr(`warden ${command}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
