import { BoundedBody, lastObjectField, stringField } from "./bounded-body.js";

test("a small body is kept whole", () => {
  const body = new BoundedBody();
  body.push(Buffer.from('{"a":'));
  body.push(Buffer.from("1}"));
  expect(body.wholeText()).toBe('{"a":1}');
});

test("a body above the limit keeps only its head and tail, whatever its size", () => {
  const body = new BoundedBody(1000, 100, 200);
  body.push(Buffer.from('{"model":"text-embedding-3-small","data":['));
  for (let i = 0; i < 500; i++) body.push(Buffer.from("0.123456789,".repeat(10)));
  body.push(Buffer.from('0]],"usage":{"prompt_tokens":42,"note":"a } in a string"}}'));
  expect(body.wholeText()).toBeNull();
  expect(body.totalBytes).toBeGreaterThan(60_000);
  expect(body.tailText().length).toBeLessThanOrEqual(200 + 120);
  expect(stringField(body.headText(), "model", "first")).toBe("text-embedding-3-small");
  expect(lastObjectField(body.tailText(), "usage")).toEqual({ prompt_tokens: 42, note: "a } in a string" });
});

test("an object cut at the end of the fragment is not read", () => {
  expect(lastObjectField('"usage":{"prompt_tokens":4', "usage")).toBeUndefined();
  expect(lastObjectField("no usage here", "usage")).toBeUndefined();
});
