import { ListFilter } from "../../../lib/src/mcp/list-filter.js";
import type { McpVisibility } from "../../../lib/src/mcp/visibility.js";
import { SseDecoder, type SseEvent } from "../sse/decoder.js";
import { SseListFilter } from "./sse-list-filter.js";

const VISIBILITY: McpVisibility = {
  tools: { rules: [{ pattern: "read_*", visible: true }], default_visible: false },
  prompts: { rules: [], default_visible: false },
  resources: { rules: [], default_visible: false },
  capabilities: ["*"],
};

const filterFor = () => new SseListFilter(() => new ListFilter(VISIBILITY, new Set(["tools"])));

function run(body: string, size: number): { text: string; perChunk: string[] } {
  const filter = filterFor();
  const bytes = Buffer.from(body);
  const perChunk: string[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    const end = Math.min(i + size, bytes.length);
    perChunk.push(Buffer.from(filter.push(bytes.subarray(i, end), end === bytes.length)).toString("utf8"));
  }
  return { text: perChunk.join(""), perChunk };
}

function events(text: string): SseEvent[] {
  const found: SseEvent[] = [];
  new SseDecoder().push(Buffer.from(text), (event) => found.push(event));
  return found;
}

const progress = JSON.stringify({
  jsonrpc: "2.0",
  method: "notifications/progress",
  params: { progress: 1 },
});
const list = {
  jsonrpc: "2.0",
  id: 3,
  result: { tools: [{ name: "read_file" }, { name: "rm_rf" }, { name: "read_dir" }], nextCursor: "c" },
};

describe("an SSE answer to an MCP list request", () => {
  const body = `: hello\nevent: message\nid: 1\ndata: ${progress}\n\nid: 2\ndata: ${JSON.stringify(list)}\n\n`;

  test.each([1, 3, 17, 4096])(
    "the response event is filtered, the notification passes unchanged (chunks of %i)",
    (size) => {
      const got = events(run(body, size).text);
      expect(got).toEqual([
        { type: "message", data: progress },
        {
          type: "message",
          data: JSON.stringify({
            jsonrpc: "2.0",
            id: 3,
            result: { tools: [{ name: "read_file" }, { name: "read_dir" }], nextCursor: "c" },
          }),
        },
      ]);
    },
  );

  test("a notification goes on in the chunk that completes it, before the response arrives", () => {
    const first = `event: message\ndata: ${progress}\n\n`;
    const { perChunk } = run(first + `data: ${JSON.stringify(list)}\n\n`, first.length);
    expect(perChunk[0]).toBe(first);
  });

  test("CRLF framing and data split over several lines read as the same JSON", () => {
    const lines = JSON.stringify(list, null, 1).split("\n");
    const crlf = lines.map((line) => `data: ${line}`).join("\r\n") + "\r\nid: 9\r\n\r\n";
    for (const size of [1, 2, 5, 1000]) {
      const got = events(run(crlf, size).text);
      expect(got).toHaveLength(1);
      expect(JSON.parse(got[0]!.data)).toEqual({
        jsonrpc: "2.0",
        id: 3,
        result: { tools: [{ name: "read_file" }, { name: "read_dir" }], nextCursor: "c" },
      });
    }
  });
});
