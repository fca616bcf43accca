import type { PeerCertificate } from "node:tls";
import { checkSpiffeId, ServerIdentityError, uriSansOf } from "./tls.js";

const cert = (subjectaltname: string) => ({ subjectaltname }) as PeerCertificate;
const ENVOY = "spiffe://warden.local/warden/envoy";

test("the sidecar passes by its SPIFFE ID whatever host name or IP was dialled", () => {
  expect(checkSpiffeId(ENVOY)("127.0.0.1", cert(`URI:${ENVOY}`))).toBeUndefined();
});

test.each([
  ["another workload", "URI:spiffe://warden.local/agent/other"],
  ["another trust domain", "URI:spiffe://evil.example/warden/envoy"],
  ["a DNS name only", "DNS:localhost, IP Address:127.0.0.1"],
  ["two URI SANs", `URI:${ENVOY}, URI:spiffe://warden.local/agent/x`],
  ["a prefix of the ID", "URI:spiffe://warden.local/warden/envoy-2"],
])("%s is refused", (_name, sans) => {
  const error = checkSpiffeId(ENVOY)("127.0.0.1", cert(sans));
  expect(error).toBeInstanceOf(ServerIdentityError);
  expect((error as ServerIdentityError).presented).toEqual(uriSansOf(cert(sans)));
});
