import { PhaseOrder, type Phase } from "./phase-order.js";

function run(phases: Phase[]): (string | null)[] {
  const order = new PhaseOrder();
  return phases.map((phase) => order.admit(phase));
}

describe("ext_proc phase order", () => {
  test("Envoy's order passes: request headers, body chunks, trailers, response headers, body chunks, trailers", () => {
    expect(
      run([
        "requestHeaders",
        "requestBody",
        "requestBody",
        "requestTrailers",
        "responseHeaders",
        "responseBody",
        "responseBody",
        "responseTrailers",
      ]),
    ).toEqual(Array(8).fill(null));
    expect(run(["requestHeaders", "responseHeaders"])).toEqual([null, null]);
  });

  test("a local reply may begin at the response headers", () => {
    expect(run(["responseHeaders", "responseBody"])).toEqual([null, null]);
  });

  test.each<[Phase[], string]>([
    [["requestHeaders", "requestHeaders"], "requestHeaders after requestHeaders"],
    [["requestBody"], "requestBody after nothing"],
    [["responseBody"], "responseBody after nothing"],
    [["requestHeaders", "responseHeaders", "requestBody"], "requestBody after responseHeaders"],
    [["requestHeaders", "responseHeaders", "responseHeaders"], "responseHeaders after responseHeaders"],
    [["responseHeaders", "requestHeaders"], "requestHeaders after responseHeaders"],
    [["requestHeaders", "requestTrailers", "requestBody"], "requestBody after requestTrailers"],
  ])("%j is refused: %s", (phases, violation) => {
    expect(run(phases).at(-1)).toBe(violation);
  });
});
