import { encodeSequenceCursor, encodeTimeCursor } from "./cursor.js";

export interface Page<Item> {
  items: Item[];
  next_cursor: string | null;
}

/**
 * One page of a list: reads one row more than the page holds (that row only tells that a next page
 * exists, whose cursor is the sort key of the page's last row).
 */
export async function readPage<Row, Item>(
  { limit }: { limit: number },
  read: (rows: number) => Promise<Row[]>,
  toItem: (row: Row) => Item,
  cursorAfter: (last: Row) => string,
): Promise<Page<Item>> {
  const rows = await read(limit + 1);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(toItem),
    next_cursor: rows.length > limit && last ? cursorAfter(last) : null,
  };
}

/** The next-page cursor of a list sorted by (time, id): the key of the page's last row. */
export function afterTime<Row extends { id: string }>(
  list: string,
  timeOf: (row: Row) => Date,
): (last: Row) => string {
  return (last) => encodeTimeCursor(list, timeOf(last), last.id);
}

/** The next-page cursor of a list sorted by a sequence id. */
export function afterSequence(list: string): (last: { id: number }) => string {
  return (last) => encodeSequenceCursor(list, last.id);
}
