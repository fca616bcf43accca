-- Per-MCP-server tool rules (lib/src/mcp/tool-rules.ts): which agents and teams may call which tools,
-- at which KYA level, with which delegation scopes, and which calls a person must approve. Owners set
-- them through the control plane; the data plane reads them with the rest of the registry row (its
-- SELECT on agents covers the new column) and puts them into the policy data. NULL: no rules yet, and
-- every tool follows the default, deny.
ALTER TABLE agents ADD COLUMN tool_rules jsonb
  CHECK (tool_rules IS NULL OR (kind = 'mcp_server' AND jsonb_typeof(tool_rules) = 'object'));
