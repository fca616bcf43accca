import { connect, type ClientHttp2Session } from "node:http2";
import { SvidCertificateProvider } from "../spiffe/grpc-mtls.js";
import type { X509SvidUpdate } from "../spiffe/svid-update.js";
import {
  makeCertificate,
  makeSvidCertificate,
  type TestCertificate,
} from "../spiffe/testing/certificates.js";
import { frameMessage } from "./framing.js";
import { H2GrpcServer } from "./server.js";
import { Status } from "./status.js";

const SERVER_ID = "spiffe://warden.local/warden/authz";
const ENVOY = "spiffe://warden.local/warden/envoy";
const INTRUDER = "spiffe://warden.local/warden/intruder";

function svidUpdate(cert: TestCertificate, bundle: TestCertificate): X509SvidUpdate {
  const svid = {
    spiffeId: SERVER_ID,
    certChainPem: cert.certPem,
    keyPem: cert.keyPem,
    expiresAt: new Date(Date.now() + 3_600_000),
    hint: "",
  };
  return { ...svid, svids: [svid], bundlesPem: { "warden.local": bundle.certPem } };
}

const ca = makeCertificate({ subject: "/O=SPIRE/CN=test root", ca: true });
const otherCa = makeCertificate({ subject: "/O=SPIRE/CN=another root", ca: true });
const serverCert = makeSvidCertificate(SERVER_ID, ca, { dnsNames: ["localhost"] });
const envoyCert = makeSvidCertificate(ENVOY, ca);
const intruderCert = makeSvidCertificate(INTRUDER, ca);
const strangerCert = makeSvidCertificate(ENVOY, otherCa);

const HEALTH_CHECK = "/grpc.health.v1.Health/Check";
const provider = new SvidCertificateProvider();
const refused: (string | null)[] = [];
let server: H2GrpcServer;
let port: number;

beforeAll(async () => {
  provider.update(svidUpdate(serverCert, ca));
  server = new H2GrpcServer("test.Service", 1024, {
    provider,
    allowed: new Set([ENVOY]),
    onRefused: (peer) => refused.push(peer),
  });
  port = await server.listen("127.0.0.1:0");
  server.setServing(true);
});

afterAll(() => server.shutdown(1_000));

function sessionWith(client: TestCertificate | null, trust: TestCertificate = ca): ClientHttp2Session {
  return connect(`https://127.0.0.1:${port}`, {
    ca: trust.certPem,
    ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
    servername: "localhost",
  });
}

/** grpc-status of a health Check on `session`, or "refused" when the connection is. */
function healthCheck(session: ClientHttp2Session): Promise<number | "refused"> {
  return new Promise((resolve) => {
    session.on("error", () => resolve("refused"));
    const request = session.request({
      ":method": "POST",
      ":path": HEALTH_CHECK,
      "content-type": "application/grpc",
    });
    let status: number | "refused" = "refused";
    request.on("response", (headers) => {
      if (headers["grpc-status"] !== undefined) status = Number(headers["grpc-status"]);
    });
    request.on("trailers", (trailers) => (status = Number(trailers["grpc-status"])));
    request.on("error", () => undefined);
    request.on("close", () => resolve(status));
    request.resume();
    request.end(frameMessage(new Uint8Array()));
  });
}

describe("the node:http2 transport with SVIDs", () => {
  it("serves the allowed SPIFFE ID and refuses another from the same trust domain, per connection", async () => {
    const envoy = sessionWith(envoyCert);
    const intruder = sessionWith(intruderCert);
    try {
      for (let round = 0; round < 3; round++) {
        const [fromEnvoy, fromIntruder] = await Promise.all([healthCheck(envoy), healthCheck(intruder)]);
        expect(fromEnvoy).toBe(Status.OK);
        expect(fromIntruder).toBe(Status.PERMISSION_DENIED);
      }
      expect(refused).toContain(INTRUDER);
    } finally {
      envoy.destroy();
      intruder.destroy();
    }
  });

  it("refuses the handshake without a client certificate, or with one from another CA", async () => {
    for (const session of [sessionWith(null), sessionWith(strangerCert)]) {
      try {
        expect(await healthCheck(session)).toBe("refused");
      } finally {
        session.destroy();
      }
    }
  });

  it("a rotated SVID serves new connections, without a restart", async () => {
    const rotatedCa = makeCertificate({ subject: "/O=SPIRE/CN=rotated root", ca: true });
    const rotatedServer = makeSvidCertificate(SERVER_ID, rotatedCa, { dnsNames: ["localhost"] });
    const rotatedEnvoy = makeSvidCertificate(ENVOY, rotatedCa);
    provider.update(svidUpdate(rotatedServer, rotatedCa));
    const old = sessionWith(envoyCert);
    const rotated = sessionWith(rotatedEnvoy, rotatedCa);
    try {
      expect(await healthCheck(old)).toBe("refused");
      expect(await healthCheck(rotated)).toBe(Status.OK);
    } finally {
      old.destroy();
      rotated.destroy();
    }
  });
});
