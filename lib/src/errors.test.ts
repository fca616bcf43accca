import { codeForStatus, ERROR_STATUS, namesOfStatus } from "./errors.js";

test("a status known only by its number gets the code that maps back to it", () => {
  for (const status of [400, 401, 402, 404, 409, 413, 429, 502, 503])
    expect(ERROR_STATUS[codeForStatus(status)]).toBe(status);
});

test("unlisted statuses fall back to internal (5xx) or forbidden (4xx), in every vocabulary", () => {
  expect(namesOfStatus(504)).toEqual({
    code: "internal",
    providerType: "api_error",
    googleStatus: "DEADLINE_EXCEEDED",
  });
  expect(namesOfStatus(500)).toEqual({
    code: "internal",
    providerType: "api_error",
    googleStatus: "INTERNAL",
  });
  expect(namesOfStatus(418)).toEqual({
    code: "forbidden",
    providerType: "invalid_request_error",
    googleStatus: "FAILED_PRECONDITION",
  });
});
