import { redactTokenFields } from "./token-fields.js";

test("token fields at any depth are redacted, everything else is kept", () => {
  const body = {
    kind: "drive#about",
    access_token: "ya29.echoed-access-token",
    nested: [{ Refresh_Token: "1//rotating-refresh" }, { id_token: "eyJ.id.token", name: "kept" }],
  };
  const out = JSON.parse(redactTokenFields(JSON.stringify(body))!) as typeof body;
  expect(out).toEqual({
    kind: "drive#about",
    access_token: "[REDACTED]",
    nested: [{ Refresh_Token: "[REDACTED]" }, { id_token: "[REDACTED]", name: "kept" }],
  });
});

test("a body without token fields is left alone", () => {
  expect(redactTokenFields('{"files":[{"name":"access_token.txt"}]}')).toBeUndefined();
});

test("text that names a token field but is not JSON is withheld (null), never passed", () => {
  expect(redactTokenFields('{"access_token":"abc", broken')).toBeNull();
});
