-- Per-MCP-server tool rules (lib/src/mcp/tool-rules.ts): which agents and teams may call which tools,
-- at which KYA level, with which delegation scopes, and which calls a person must approve. Owners set
-- them through the control plane; the data plane reads them with the rest of the registry row (its
-- SELECT on agents covers the new column) and puts them into the policy data. NULL: no rules yet, and
-- every tool follows the default, deny.
ALTER TABLE agents ADD COLUMN tool_rules jsonb
  CHECK (tool_rules IS NULL OR (kind = 'mcp_server' AND jsonb_typeof(tool_rules) = 'object'));

-- The MCP server's canonical resource URI (RFC 8707 / RFC 9728 `resource`): the audience of bearer
-- tokens minted for it, checked by its inbound sidecar. NULL: no bearer tokens can be minted for it.
ALTER TABLE agents ADD COLUMN resource_uri text
  CHECK (resource_uri IS NULL OR (kind = 'mcp_server' AND resource_uri ~ '^https?://'));
CREATE UNIQUE INDEX agents_resource_uri ON agents (resource_uri) WHERE resource_uri IS NOT NULL;
