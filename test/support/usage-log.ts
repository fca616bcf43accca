import { waitFor } from "../harness/process.js";
import type { Stack } from "../harness/stack.js";

/** The usage record extproc-server logs for each LLM call (`"llm usage"` lines of its log). */
export interface LoggedUsage {
  provider: string;
  requestedModel: string | null;
  responseModel: string | null;
  stream: boolean;
  status: number;
  outcome: string;
  usageSource: string;
  usage: { inputTokens: number; outputTokens: number };
  tenant: string | null;
}

interface UsageLogLine {
  decision_id: string;
  usage_record: LoggedUsage;
}

/** Every usage line extproc-server has logged so far, oldest first. */
export function loggedUsageLines(stack: Pick<Stack, "extproc">): UsageLogLine[] {
  return stack.extproc
    .process()
    .log()
    .split("\n")
    .filter((line) => line.includes('"llm usage"'))
    .map((line) => JSON.parse(line) as UsageLogLine);
}

/** The usage record of the call that got decision `decisionId`, once extproc-server has logged it. */
export async function loggedUsageOf(
  stack: Pick<Stack, "extproc">,
  decisionId: string | null,
  timeoutMs: number,
): Promise<LoggedUsage> {
  expect(decisionId).toEqual(expect.any(String));
  let found: UsageLogLine | undefined;
  await waitFor(
    `usage record of ${decisionId}`,
    () => {
      found = loggedUsageLines(stack).find((line) => line.decision_id === decisionId);
      return found !== undefined;
    },
    timeoutMs,
  );
  return found!.usage_record;
}
