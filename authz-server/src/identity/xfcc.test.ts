import { parseXfcc } from "./xfcc.js";

describe("x-forwarded-client-cert parsing", () => {
  test("reads what a Warden sidecar writes: the agent's hash and URI", () => {
    expect(parseXfcc("Hash=ab12;URI=spiffe://warden.local/agent/bot")).toEqual([
      { hash: "ab12", uri: "spiffe://warden.local/agent/bot" },
    ]);
  });

  test("keeps elements apart, and quoted values keep their commas, semicolons and quotes", () => {
    expect(
      parseXfcc('By=spiffe://a/b;Subject="CN=x, O=\\"y\\"; z";URI=spiffe://td/one,URI=spiffe://td/two'),
    ).toEqual([
      { by: "spiffe://a/b", subject: 'CN=x, O="y"; z', uri: "spiffe://td/one" },
      { uri: "spiffe://td/two" },
    ]);
  });

  test("a malformed header counts for nothing", () => {
    for (const bad of ["", "URI", "URI=a;;", "URI=a;URI=b", 'URI="open', "=x", 'URI="a"b', "URI=a,"]) {
      expect(parseXfcc(bad)).toBeNull();
    }
  });
});
