import { z } from "zod";

/** Settings of MCP call approvals on the control plane (docs/approvals.md); part of its one schema. */
export const approvalConfigShape = {
  WARDEN_APPROVAL_APPROVED_TTL_S: z.coerce
    .number()
    .int("must be a whole number of seconds")
    .min(10, "must be at least 10 seconds (the agent must have time to retry)")
    .max(86_400, "must be at most 86400 seconds (a day)")
    .default(300)
    .describe(
      "How long an approved MCP call waits for the agent's identical retry before it expires unused.",
    ),
};
