import { scrubUrlCredentials } from "./url-credentials.js";

test("credential query parameters in a URL lose their value; the rest of the URL is kept", () => {
  expect(scrubUrlCredentials("https://x.example/a?key=AIzaSecret&page=2#frag")).toBe(
    "https://x.example/a?key=REDACTED&page=2#frag",
  );
  expect(scrubUrlCredentials("/v1/files?X-Amz-Signature=abc123&X-Amz-Credential=AKIA%2F1")).toBe(
    "/v1/files?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED",
  );
  expect(scrubUrlCredentials("5; url=https://x.example/?access_token=tok")).toBe(
    "5; url=https://x.example/?access_token=REDACTED",
  );
});

test("every URL of a Link header is scrubbed", () => {
  expect(
    scrubUrlCredentials(
      '<https://x.example/p?token=a&n=2>; rel="next", <https://x.example/p?sig=b>; rel="last"',
    ),
  ).toBe(
    '<https://x.example/p?token=REDACTED&n=2>; rel="next", <https://x.example/p?sig=REDACTED>; rel="last"',
  );
});

test("a password in the user-info is redacted", () => {
  expect(scrubUrlCredentials("https://user:hunter2@x.example/a")).toBe("https://user:REDACTED@x.example/a");
});

test("URLs without credentials are left alone (undefined)", () => {
  expect(scrubUrlCredentials("https://x.example/a?page=2&keyword=cats")).toBeUndefined();
  expect(scrubUrlCredentials("/relative/path")).toBeUndefined();
  expect(scrubUrlCredentials("https://user@x.example/")).toBeUndefined();
});
