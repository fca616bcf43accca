import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadBundle } from "../../../authz-server/src/policy/engine.js";
import { PolicyLoadError } from "../../../lib/src/policy-bundle/errors.js";
import { readTarGz, writeTarGz } from "../../../lib/src/policy-bundle/tar.js";
import {
  buildBundle,
  removeDir,
  signingKeys,
  tempDir,
  type SigningKeys,
} from "../../../test/harness/policy-bundles.js";
import { toolPath } from "../../../test/harness/process.js";
import { startBundleServer, type BundleServer } from "../../../test/stubs/bundle-server.js";
import { parsePolicyCommand, runPolicyCommand } from "./policy-commands.js";

/**
 * `warden policy`: bundles it signs are accepted by authz-server's verifier and by the real opa,
 * pushes land atomically in a file or in object storage, and mistakes get clear messages.
 */
interface Run {
  code: number;
  out: string;
  err: string;
}

async function warden(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runPolicyCommand(argv, {
    env: { PATH: process.env.PATH, ...env },
    stdout: (line) => out.push(line),
    stderr: (line) => err.push(line),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** Verification by the real OPA: `opa build --bundle <signed> --verification-key <public key>`. */
function opaVerifies(
  bundle: string,
  publicKeyPem: string,
  algorithm: string,
): { ok: boolean; output: string } {
  const keyFile = join(dir, `verify-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(keyFile, publicKeyPem);
  const result = spawnSync(
    toolPath("opa"),
    [
      "build",
      "--bundle",
      bundle,
      "--verification-key",
      keyFile,
      "--signing-alg",
      algorithm,
      "--output",
      join(dir, "opa-out.tar.gz"),
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}`.trim() };
}

let dir: string;
let ec: SigningKeys;
let unsignedPath: string;

beforeAll(() => {
  dir = tempDir("policy-cli");
  ec = signingKeys(dir);
  unsignedPath = join(dir, "unsigned.tar.gz");
  buildBundle({ out: unsignedPath, revision: "rev-cli" });
}, 60_000);

afterAll(() => removeDir(dir));

describe("warden policy sign", () => {
  test("signs a built bundle so that authz-server and the real opa both accept it, and another key does not", async () => {
    const out = join(dir, "signed-ec.tar.gz");
    const run = await warden([
      "sign",
      "--bundle",
      unsignedPath,
      "--signing-key",
      ec.privateKeyFile,
      "--out",
      out,
    ]);
    expect(run).toMatchObject({ code: 0, err: "" });
    expect(run.out).toMatch(
      /^signed .*signed-ec\.tar\.gz: revision rev-cli, ES256, key id "default", \d+ files$/,
    );

    const policy = await loadBundle(readFileSync(out), {
      publicKeyPem: ec.publicKeyPem,
      requireSignature: true,
    });
    expect(policy.revision).toBe("rev-cli");
    expect(opaVerifies(out, ec.publicKeyPem, "ES256")).toEqual({ ok: true, output: "" });

    const other = signingKeys(dir);
    const refused = opaVerifies(out, other.publicKeyPem, "ES256");
    expect(refused.ok).toBe(false);
    expect(refused.output).toContain("failed to verify JWT signature");
    // The unsigned input is left alone when --out is given.
    expect(readTarGz(readFileSync(unsignedPath)).has(".signatures.json")).toBe(false);
  }, 60_000);

  test("an RSA key signs RS256 by default, in place, replacing an existing signature", async () => {
    const rsa = signingKeys(dir, "rsa");
    const path = join(dir, "in-place.tar.gz");
    buildBundle({ out: path, revision: "rev-resigned", signingKey: ec.privateKeyFile });
    const run = await warden(["sign", "--bundle", path, "--signing-key", rsa.privateKeyFile]);
    expect(run.code).toBe(0);
    expect(run.out).toContain("RS256");
    expect(run.out).toContain("(replaced the previous signature)");
    expect(opaVerifies(path, rsa.publicKeyPem, "RS256").ok).toBe(true);
    await expect(
      loadBundle(readFileSync(path), {
        publicKeyPem: rsa.publicKeyPem,
        algorithm: "RS256",
        requireSignature: true,
      }),
    ).resolves.toMatchObject({ revision: "rev-resigned" });
    // No temporary file is left next to the bundle.
    expect(readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  }, 60_000);

  test("a data.json changed after signing is still caught: signing does not launder tampering", async () => {
    const out = join(dir, "signed-then-tampered.tar.gz");
    expect(
      (await warden(["sign", "--bundle", unsignedPath, "--signing-key", ec.privateKeyFile, "--out", out]))
        .code,
    ).toBe(0);
    const files = readTarGz(readFileSync(out));
    files.set(
      "data.json",
      Buffer.from(files.get("data.json")!.toString("utf8").replace("warden.local", "wardem.local")),
    );
    const tampered = join(dir, "tampered.tar.gz");
    writeFileSync(tampered, writeTarGz(files));
    expect(opaVerifies(tampered, ec.publicKeyPem, "ES256").ok).toBe(false);
    const error = await loadBundle(readFileSync(tampered), {
      publicKeyPem: ec.publicKeyPem,
      requireSignature: true,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PolicyLoadError);
    expect((error as PolicyLoadError).code).toBe("bundle_tampered");
  }, 60_000);

  test.each([
    [["sign", "--signing-key", "k.pem"], "sign needs --bundle"],
    [["sign", "--bundle", "b.tar.gz"], "sign needs --signing-key"],
    [
      ["sign", "--bundle", "b", "--signing-key", "k", "--signing-alg", "HS256"],
      "--signing-alg must be one of",
    ],
    [["push", "--bundle", "b.tar.gz"], "push needs --to"],
    [["push", "--bundle", "b", "--to", "s3://bucket/b.tar.gz"], 'unsupported bundle location "s3://'],
    [["test", "--min-coverage", "ninety"], "--min-coverage must be a percentage"],
    [["deploy"], 'unknown command "deploy"'],
    [[], "missing command"],
    [["build", "--frobnicate"], "Unknown option '--frobnicate'"],
  ])("refuses %j with exit 2 and the usage", async (argv, message) => {
    const run = await warden(argv);
    expect(run.code).toBe(2);
    expect(run.err).toContain(message);
    expect(run.err).toContain("usage:");
  });

  test("failures exit 1 and say what is wrong", async () => {
    const notABundle = join(dir, "not-a-bundle.tar.gz");
    writeFileSync(notABundle, "hello");
    const wrongAlg = await warden([
      "sign",
      "--bundle",
      unsignedPath,
      "--signing-key",
      ec.privateKeyFile,
      "--signing-alg",
      "RS256",
      "--out",
      join(dir, "x.tar.gz"),
    ]);
    expect(wrongAlg).toMatchObject({ code: 1 });
    expect(wrongAlg.err).toContain("cannot sign with RS256");
    const garbage = await warden(["sign", "--bundle", notABundle, "--signing-key", ec.privateKeyFile]);
    expect(garbage.code).toBe(1);
    expect(garbage.err).toContain("is not an OPA bundle: bundle is not gzip-compressed");
    const missingKey = await warden([
      "sign",
      "--bundle",
      unsignedPath,
      "--signing-key",
      join(dir, "nope.pem"),
    ]);
    expect(missingKey.code).toBe(1);
    expect(missingKey.err).toMatch(/signing key .*nope\.pem not found/);
    const notAKey = await warden(["sign", "--bundle", unsignedPath, "--signing-key", notABundle]);
    expect(notAKey.err).toContain("the signing key is not a PEM private key");
  });
});

describe("warden policy push", () => {
  let server: BundleServer;
  let tokenFile: string;

  beforeAll(async () => {
    server = await startBundleServer({ uploadToken: "upload-token-0123456789" });
    tokenFile = join(dir, "upload.token");
    writeFileSync(tokenFile, "upload-token-0123456789\n", { mode: 0o600 });
  });
  afterAll(() => server.close());

  test("uploads to object storage with the bearer token; the served ETag changes with the content", async () => {
    const url = `${server.url}/bundles/warden.tar.gz`;
    const run = await warden(["push", "--bundle", unsignedPath, "--token-file", tokenFile], {
      WARDEN_POLICY_BUNDLE: url,
    });
    expect(run.code).toBe(0);
    expect(run.out).toMatch(
      /^pushed revision rev-cli \(unsigned\) to http:\/\/127\.0\.0\.1:\d+\/bundles\/warden\.tar\.gz \(etag "[0-9a-f]+"\)$/,
    );
    expect(run.err).toContain("warning: the bundle is not signed");
    expect(run.out + run.err).not.toContain("upload-token-0123456789");

    const download = await fetch(url);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(readFileSync(unsignedPath));
    const etag = download.headers.get("etag")!;
    expect((await fetch(url, { headers: { "if-none-match": etag } })).status).toBe(304);

    const signed = join(dir, "push-signed.tar.gz");
    await warden(["sign", "--bundle", unsignedPath, "--signing-key", ec.privateKeyFile, "--out", signed]);
    expect(
      (await warden(["push", "--bundle", signed, "--to", url, "--token-file", tokenFile])).out,
    ).toContain("(signed)");
    expect(server.etag("/bundles/warden.tar.gz")).not.toBe(etag);
  });

  test("an upload without a token or with the wrong one is refused with a message that says so", async () => {
    const url = `${server.url}/bundles/other.tar.gz`;
    const without = await warden(["push", "--bundle", unsignedPath, "--to", url]);
    expect(without).toMatchObject({ code: 1 });
    expect(without.err).toContain("refused the upload (401): it needs a token (--token-file)");
    const wrongToken = join(dir, "wrong.token");
    writeFileSync(wrongToken, "not-the-token");
    const wrong = await warden(["push", "--bundle", unsignedPath, "--to", url, "--token-file", wrongToken]);
    expect(wrong.err).toContain("refused the upload (403): the token was not accepted");
    expect(server.etag("/bundles/other.tar.gz")).toBeNull();
  });

  test("an unreachable bundle server and a missing directory are failures, not crashes", async () => {
    const closed = await startBundleServer();
    await closed.close();
    const unreachable = await warden(["push", "--bundle", unsignedPath, "--to", `${closed.url}/b.tar.gz`]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.err).toContain(`cannot reach ${closed.url}/b.tar.gz: ECONNREFUSED`);
    const noDir = await warden(["push", "--bundle", unsignedPath, "--to", join(dir, "missing", "b.tar.gz")]);
    expect(noDir.code).toBe(1);
    expect(noDir.err).toContain("does not exist");
  });

  test("a file target is replaced by rename: a new inode, the full new bytes, no temporary file left", async () => {
    const target = join(dir, "served", "bundle.tar.gz");
    mkdirSync(join(dir, "served"));
    expect((await warden(["push", "--bundle", unsignedPath, "--to", target])).code).toBe(0);
    const before = statSync(target).ino;
    const signed = join(dir, "push-file-signed.tar.gz");
    await warden(["sign", "--bundle", unsignedPath, "--signing-key", ec.privateKeyFile, "--out", signed]);
    expect((await warden(["push", "--bundle", signed, "--to", `file://${target}`])).code).toBe(0);
    expect(statSync(target).ino).not.toBe(before);
    expect(readFileSync(target)).toEqual(readFileSync(signed));
    expect(readdirSync(join(dir, "served"))).toEqual(["bundle.tar.gz"]);
  });
});

describe("warden policy test and build", () => {
  test("test runs opa test with the coverage gate; a threshold above the coverage fails", async () => {
    const passing = await warden(["test", "--dir", "policies", "--min-coverage", "90"]);
    expect(passing.code).toBe(0);
    expect(passing.out).toMatch(/policy coverage \d+\.\d+% \(minimum 90%\) PASS/);
    const failing = await warden(["test", "--min-coverage", "100", "--json"]);
    expect(failing.code).toBe(1);
    expect(JSON.parse(failing.out)).toMatchObject({ minimum: 100, passed: false });
  }, 120_000);

  test("build writes a bundle with the given revision; a missing policy folder is a usage error", async () => {
    const out = join(dir, "built.tar.gz");
    const run = await warden(["build", "--out", out, "--revision", "2025-06-01.1"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.out)).toMatchObject({ bundle: out, revision: "2025-06-01.1", signed: false });
    await expect(loadBundle(readFileSync(out), { requireSignature: false })).resolves.toMatchObject({
      revision: "2025-06-01.1",
    });
    const missing = await warden(["build", "--dir", join(dir, "no-such-policy")]);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain("does not exist");
  }, 60_000);

  test("the signing key comes from WARDEN_POLICY_SIGNING_KEY_FILE when --signing-key is not given", () => {
    expect(
      parsePolicyCommand(["sign", "--bundle", "b.tar.gz"], { WARDEN_POLICY_SIGNING_KEY_FILE: "/keys/k.pem" }),
    ).toMatchObject({
      action: "sign",
      signingKey: "/keys/k.pem",
      keyId: "default",
    });
  });
});
