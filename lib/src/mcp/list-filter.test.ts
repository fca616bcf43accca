import { filterListAnswer, ListFilter } from "./list-filter.js";
import type { McpItemKind } from "./protocol.js";
import { NOTHING_VISIBLE, type McpVisibility } from "./visibility.js";

const VISIBILITY: McpVisibility = {
  tools: {
    rules: [
      { pattern: "search_*", visible: true },
      { pattern: "search_admin", visible: false },
    ],
    default_visible: false,
  },
  prompts: { rules: [{ pattern: "summary", visible: true }], default_visible: false },
  resources: { rules: [{ pattern: "file:///public/*", visible: true }], default_visible: false },
  capabilities: ["search_*"],
};
const TOOLS: ReadonlySet<McpItemKind> = new Set(["tools"]);
const ALL: ReadonlySet<McpItemKind> = new Set(["tools", "prompts", "resources"]);

const tool = (name: string) => ({ name, description: `the ${name} tool`, inputSchema: { type: "object" } });

function filtered(body: unknown, kinds = TOOLS, visibility = VISIBILITY): unknown {
  const text = typeof body === "string" ? body : JSON.stringify(body, null, 2);
  return JSON.parse(Buffer.from(filterListAnswer(Buffer.from(text), visibility, kinds)).toString("utf8"));
}

/** Feeds the body in pieces of `size` bytes. */
function inPieces(text: string, size: number, kinds = TOOLS): string {
  const filter = new ListFilter(VISIBILITY, kinds);
  const bytes = Buffer.from(text);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(filter.push(bytes.subarray(i, i + size)));
  out.push(filter.end());
  return Buffer.concat(out).toString("utf8");
}

describe("MCP list filtering", () => {
  const answer = {
    jsonrpc: "2.0",
    id: 7,
    result: {
      tools: [tool("search_docs"), tool("delete_all"), tool("search_admin"), tool("search_web")],
      nextCursor: "page-2",
    },
  };

  test("a tools/list answer keeps only the tools the caller may use, with its id and cursor", () => {
    expect(filtered(answer)).toEqual({
      jsonrpc: "2.0",
      id: 7,
      result: { tools: [tool("search_docs"), tool("search_web")], nextCursor: "page-2" },
    });
  });

  test("missing visibility shows an empty list, never everything", () => {
    expect(filtered(answer, TOOLS, NOTHING_VISIBLE)).toEqual({
      jsonrpc: "2.0",
      id: 7,
      result: { tools: [], nextCursor: "page-2" },
    });
  });

  test("split at every byte boundary, the answer is the same", () => {
    const text = JSON.stringify(answer);
    const whole = inPieces(text, text.length);
    for (const size of [1, 2, 3, 7, 13]) expect(inPieces(text, size)).toBe(whole);
    expect(JSON.parse(whole)).toEqual(filtered(answer));
  });

  test("batched answers are filtered element by element; prompts and resources by name and URI", () => {
    const batch = [
      { jsonrpc: "2.0", id: 1, result: { prompts: [{ name: "summary" }, { name: "exfiltrate" }] } },
      {
        jsonrpc: "2.0",
        id: 2,
        result: {
          resources: [
            { uri: "file:///public/a", name: "a" },
            { uri: "file:///secret/b", name: "b" },
          ],
        },
      },
      { jsonrpc: "2.0", id: 3, error: { code: -32601, message: "no" } },
    ];
    expect(filtered(batch, ALL)).toEqual([
      { jsonrpc: "2.0", id: 1, result: { prompts: [{ name: "summary" }] } },
      { jsonrpc: "2.0", id: 2, result: { resources: [{ uri: "file:///public/a", name: "a" }] } },
      { jsonrpc: "2.0", id: 3, error: { code: -32601, message: "no" } },
    ]);
  });

  test("an escaped key cannot hide the list, and items that are not named objects are dropped", () => {
    const text =
      '{"jsonrpc":"2.0","id":"x","r\\u0065sult":{"t\\u006fols":[1,"search_x",null,true,{"name":"delete_all"},{"name":"search_ok","x":[1,{"a":"]"}]},{"title":"no name"}]}}';
    expect(filtered(text)).toEqual({
      jsonrpc: "2.0",
      id: "x",
      result: { tools: [{ name: "search_ok", x: [1, { a: "]" }] }] },
    });
  });

  test("an item naming itself twice is dropped, and a nested name does not count", () => {
    const text =
      '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"search_ok","name":"delete_all"},{"meta":{"name":"search_x"},"name":"delete_b"},{"meta":{"name":"delete_c"},"name":"search_y"}]}}';
    expect(filtered(text)).toEqual({
      jsonrpc: "2.0",
      id: 1,
      result: { tools: [{ meta: { name: "delete_c" }, name: "search_y" }] },
    });
  });

  test("a tools list nested anywhere but result.tools is left alone (a tool result's content)", () => {
    const call = {
      jsonrpc: "2.0",
      id: 1,
      result: { structuredContent: { tools: [tool("delete_all")] }, content: [] },
    };
    expect(filtered(call)).toEqual(call);
  });

  test("an item above the size bound is dropped, and memory stays bounded", () => {
    const big = { name: "search_big", blob: "a".repeat(5000) };
    const filter = new ListFilter(VISIBILITY, TOOLS, 1024);
    const text = JSON.stringify({ jsonrpc: "2.0", id: 1, result: { tools: [big, tool("search_small")] } });
    const out = Buffer.concat([filter.push(Buffer.from(text)), filter.end()]).toString("utf8");
    expect(JSON.parse(out)).toEqual({ jsonrpc: "2.0", id: 1, result: { tools: [tool("search_small")] } });
    expect(filter.dropped).toBe(1);
  });

  test("a truncated answer shows no half-read item", () => {
    const text = JSON.stringify(answer);
    const cut = text.slice(0, text.indexOf("search_admin") + 4);
    const out = inPieces(cut, 5);
    expect(out).not.toContain("search_adm");
    expect(out).not.toContain("delete_all");
  });
});
