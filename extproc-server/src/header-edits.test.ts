import { HeaderEdits, HeaderView, headerValue } from "./header-edits.js";
import { asEnvoyReads, envoyHeaders, readMutation } from "./testing/envoy-messages.js";

describe("header edits", () => {
  test("nothing to change sends no mutation at all", () => {
    expect(new HeaderEdits().toMutation()).toBeUndefined();
  });

  test("a set after a remove replaces the header instead of dropping it", () => {
    const edits = new HeaderEdits().remove("Authorization").set("authorization", "Bearer injected");
    expect(readMutation(edits.toMutation())).toMatchObject({
      set: { authorization: "Bearer injected" },
      remove: [],
    });
  });

  test("a remove after a set drops the header", () => {
    const edits = new HeaderEdits().set("x-a", "1").remove("X-A");
    expect(readMutation(edits.toMutation())).toMatchObject({ set: {}, remove: ["x-a"] });
  });

  test("setting a name twice keeps the last value once", () => {
    const edits = new HeaderEdits().set("x-a", "1").set("X-A", "2");
    expect(edits.toMutation()?.setHeaders).toHaveLength(1);
    expect(edits.valueOf("x-a")).toBe("2");
  });

  test("values travel in raw_value only, as Envoy requires", () => {
    const reply = asEnvoyReads({
      requestHeaders: { response: { headerMutation: new HeaderEdits().set("x-a", "é1").toMutation() } },
    });
    const mutation = readMutation(reply.requestHeaders?.response?.headerMutation);
    expect(mutation.set).toEqual({ "x-a": "é1" });
    expect(mutation.plainValues).toEqual([]);
  });

  test("a value Envoy would refuse (CR, LF, NUL) is refused here, with the header's name", () => {
    expect(() => new HeaderEdits().set("x-a", "v\r\nx-injected: 1")).toThrow(/x-a/);
  });
});

describe("reading header values", () => {
  const headers = envoyHeaders([
    ["content-type", "text/event-stream"],
    ["accept", "a"],
    ["accept", "b"],
  ]);

  test("raw_value is decoded, repeated headers join with a comma, absent ones are undefined", () => {
    expect(headerValue(headers, "content-type")).toBe("text/event-stream");
    expect(headerValue(headers, "accept")).toBe("a,b");
    expect(headerValue(headers, "x-none")).toBeUndefined();
  });

  test("an older Envoy's plain value is read too", () => {
    expect(headerValue([{ key: "x-a", value: "plain" }], "x-a")).toBe("plain");
  });

  test("the view providers get is case-insensitive", () => {
    const view = new HeaderView(headers);
    expect(view.get("Content-Type")).toBe("text/event-stream");
    expect(view.has("ACCEPT")).toBe(true);
  });
});
