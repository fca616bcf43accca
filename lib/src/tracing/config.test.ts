import { loadConfig } from "../config.js";
import { otlpHostPort, tracingConfigShape } from "./config.js";

test("tracing is off unless WARDEN_OTLP_ENDPOINT is set", () => {
  expect(loadConfig(tracingConfigShape, {}).WARDEN_OTLP_ENDPOINT).toBeUndefined();
  expect(loadConfig(tracingConfigShape, { WARDEN_OTLP_ENDPOINT: "" }).WARDEN_OTLP_ENDPOINT).toBeUndefined();
});

test("an endpoint that is not http(s)://host:port is refused by name", () => {
  for (const bad of ["127.0.0.1:4317", "grpc://collector:4317", "http://collector:4317/v1/traces"])
    expect(() => loadConfig(tracingConfigShape, { WARDEN_OTLP_ENDPOINT: bad })).toThrow(
      /WARDEN_OTLP_ENDPOINT/,
    );
  expect(loadConfig(tracingConfigShape, { WARDEN_OTLP_ENDPOINT: "http://127.0.0.1:4317" })).toEqual({
    WARDEN_OTLP_ENDPOINT: "http://127.0.0.1:4317",
  });
});

test("the collector's host and port, as Envoy's cluster takes them", () => {
  expect(otlpHostPort("http://127.0.0.1:4317")).toEqual({ address: "127.0.0.1", port: 4317 });
  expect(otlpHostPort("http://jaeger:4317/")).toEqual({ address: "jaeger", port: 4317 });
  expect(otlpHostPort("https://otel.example")).toEqual({ address: "otel.example", port: 443 });
  expect(otlpHostPort("http://[::1]:4317")).toEqual({ address: "::1", port: 4317 });
});
