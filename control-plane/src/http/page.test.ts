import { decodeSequenceCursor } from "./cursor.js";
import { afterSequence, readPage } from "./page.js";

describe("list pages", () => {
  const rows = [
    { id: 1, name: "a" },
    { id: 2, name: "b" },
    { id: 3, name: "c" },
  ];

  test("read one row more than the page, and point the cursor after the page's last row", async () => {
    const asked: number[] = [];
    const page = await readPage(
      { limit: 2 },
      async (n) => (asked.push(n), rows.slice(0, n)),
      (row) => row.name,
      afterSequence("things"),
    );
    expect(asked).toEqual([3]);
    expect(page.items).toEqual(["a", "b"]);
    expect(decodeSequenceCursor("things", page.next_cursor ?? undefined)).toBe(2);
  });

  test("the last page has no cursor", async () => {
    const page = await readPage(
      { limit: 3 },
      async () => rows,
      (row) => row.id,
      afterSequence("things"),
    );
    expect(page).toEqual({ items: [1, 2, 3], next_cursor: null });
  });
});
