-- Usage that cannot be dodged (issue 15): when a provider reports no usage for a call that went
-- upstream (a stream left before its final usage chunk, a stall, a cut), extproc-server records an
-- estimate counted from the request and the text delivered to the agent, and charges budgets with
-- it. Such rows say so: usage_source 'estimated'.
-- (Numbered after the issue rather than the next free number, so parallel branches adding
-- migrations do not collide on a version.)
ALTER TABLE llm_usage DROP CONSTRAINT llm_usage_usage_source_check;
ALTER TABLE llm_usage ADD CONSTRAINT llm_usage_usage_source_check
  CHECK (usage_source IN ('body', 'stream', 'estimated', 'none'));
