import { renderRecord, renderTable } from "./table.js";

test("tables pad columns to the widest cell and show empty values as -", () => {
  const rows = [
    { id: "1", name: "research-bot", caps: ["llm:chat", "github:repo.read"] },
    { id: "22", name: "x", caps: [] },
  ];
  const table = renderTable(
    [
      { header: "ID", value: (r: (typeof rows)[number]) => r.id },
      { header: "NAME", value: (r: (typeof rows)[number]) => r.name },
      { header: "CAPS", value: (r: (typeof rows)[number]) => r.caps },
    ],
    rows,
  );
  expect(table.split("\n")).toEqual([
    "ID  NAME          CAPS",
    "1   research-bot  llm:chat,github:repo.read",
    "22  x             -",
  ]);
  expect(renderRecord({ id: "1", level: null, metadata: { a: 1 } })).toBe(
    'id        1\nlevel     -\nmetadata  {"a":1}',
  );
});
