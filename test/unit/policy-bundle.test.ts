import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadBundle, type LoadedPolicy, type LoadOptions } from "../../authz-server/src/policy/engine.js";
import { PolicyHolder } from "../../authz-server/src/policy/holder.js";
import { PolicyLoadError } from "../../lib/src/policy-bundle/errors.js";
import { readTarGz, writeTarGz } from "../../lib/src/policy-bundle/tar.js";
import {
  buildBundle,
  caseInput,
  POLICY_DIR,
  readCaseTable,
  removeDir,
  signingKeys,
  tempDir,
  writePolicyDir,
  type SigningKeys,
} from "../harness/policy-bundles.js";

/**
 * Signed bundles from the real `opa build --signing-key`, verified by our verifier; every way a
 * bundle can be wrong is refused with a reason, and the policy already serving keeps serving.
 */
const table = readCaseTable();
const allowedInput = caseInput(
  table,
  table.cases.find((c) => c.expect.allow)!,
);

let dir: string;
let keys: SigningKeys, otherKeys: SigningKeys;
let signedA: Buffer, signedB: Buffer, unsigned: Buffer;

beforeAll(() => {
  dir = tempDir("policy-bundle");
  keys = signingKeys(dir);
  otherKeys = signingKeys(dir);
  signedA = buildBundle({ out: join(dir, "a.tar.gz"), revision: "rev-a", signingKey: keys.privateKeyFile });
  signedB = buildBundle({ out: join(dir, "b.tar.gz"), revision: "rev-b", signingKey: keys.privateKeyFile });
  unsigned = buildBundle({ out: join(dir, "unsigned.tar.gz"), revision: "rev-unsigned" });
}, 60_000);

afterAll(() => removeDir(dir));

const strict = () => ({ publicKeyPem: keys.publicKeyPem, requireSignature: true });

async function refusal(bundle: Buffer, opts: LoadOptions = strict()): Promise<PolicyLoadError> {
  try {
    await loadBundle(bundle, opts);
  } catch (error) {
    if (error instanceof PolicyLoadError) return error;
    throw error;
  }
  throw new Error("the bundle was accepted");
}

function rewrite(bundle: Buffer, change: (files: Map<string, Buffer>) => void): Buffer {
  const files = readTarGz(bundle);
  change(files);
  return writeTarGz(files);
}

describe("bundle signatures", () => {
  test("a bundle signed by opa build with the configured ES256 key loads, with its revision", async () => {
    const policy = await loadBundle(signedA, strict());
    expect(policy.revision).toBe("rev-a");
    expect(policy.evaluate(allowedInput)).toMatchObject({
      allow: true,
      metadata: { policy_revision: "rev-a" },
    });
  });

  test("re-serialising the signed data.json (other whitespace and key order) still verifies, as in OPA", async () => {
    const reversed = (value: unknown): unknown =>
      Array.isArray(value)
        ? value.map(reversed)
        : typeof value === "object" && value !== null
          ? Object.fromEntries(
              Object.entries(value)
                .reverse()
                .map(([k, v]) => [k, reversed(v)]),
            )
          : value;
    const bundle = rewrite(signedA, (files) => {
      const data: unknown = JSON.parse(files.get("data.json")!.toString("utf8"));
      files.set("data.json", Buffer.from(JSON.stringify(reversed(data), null, 4)));
    });
    await expect(loadBundle(bundle, strict())).resolves.toMatchObject({ revision: "rev-a" });
  });

  test("our digest of structured files equals OPA's for awkward JSON (number literals, escapes, unicode)", async () => {
    // The shipped policy, so the bundle is loadable; only data.json gains awkward values.
    const policyDir = join(dir, "awkward-json");
    cpSync(join(POLICY_DIR, "warden"), join(policyDir, "warden"), { recursive: true });
    cpSync(join(POLICY_DIR, "data.json"), join(policyDir, "data.json"));
    const data = readFileSync(join(policyDir, "data.json"), "utf8").replace(
      /^\{/,
      '{"awkward": {"float": 1.0, "exp": 1E3, "neg": -0.50, "big": 123456789012345678901234567890, ' +
        '"text": "<&> \\u2028 \\u0007 \\u001f é 😀 \\"q\\" \\\\ \\t \\b \\f", "ü": [], "a": {}, "Z": null, "\\u00e9": true, "raw": "\u2028\u2029"},',
    );
    writeFileSync(join(policyDir, "data.json"), data);
    const bundle = buildBundle({
      dir: policyDir,
      out: join(dir, "awkward.tar.gz"),
      signingKey: keys.privateKeyFile,
    });
    await expect(loadBundle(bundle, strict())).resolves.toBeDefined();
  }, 30_000);

  test("an unsigned bundle is refused when signatures are required", async () => {
    const error = await refusal(unsigned);
    expect(error.code).toBe("bundle_unsigned");
    expect(error.message).toContain(".signatures.json");
  });

  test("an unsigned bundle loads when signatures are not required (development)", async () => {
    await expect(loadBundle(unsigned, { requireSignature: false })).resolves.toMatchObject({
      revision: "rev-unsigned",
    });
  });

  test("requiring signatures without a verification key is a configuration error", async () => {
    const error = await refusal(signedA, { requireSignature: true });
    expect(error.code).toBe("verification_key_missing");
  });

  test("a bundle signed with another key is refused", async () => {
    const error = await refusal(signedA, { publicKeyPem: otherKeys.publicKeyPem, requireSignature: true });
    expect(error.code).toBe("signature_invalid");
    expect(error.message).toContain("does not verify");
  });

  test("a changed value in data.json is detected as tampering", async () => {
    const bundle = rewrite(signedA, (files) => {
      files.set(
        "data.json",
        Buffer.from(files.get("data.json")!.toString("utf8").replace('"warden.local"', '"evil.example"')),
      );
    });
    const error = await refusal(bundle);
    expect(error.code).toBe("bundle_tampered");
    expect(error.message).toContain("data.json: digest mismatch");
  });

  test("a modified policy.wasm is detected as tampering", async () => {
    const bundle = rewrite(signedA, (files) => {
      const wasm = Buffer.from(files.get("policy.wasm")!);
      wasm[wasm.length - 1] = wasm[wasm.length - 1]! ^ 0xff;
      files.set("policy.wasm", wasm);
    });
    expect((await refusal(bundle)).message).toContain("policy.wasm: digest mismatch");
  });

  test("a file added after signing is refused", async () => {
    const bundle = rewrite(signedA, (files) => files.set("extra/data.json", Buffer.from("{}")));
    const error = await refusal(bundle);
    expect(error.code).toBe("bundle_tampered");
    expect(error.message).toContain("extra/data.json is not covered");
  });

  test("a signed file removed from the bundle is refused", async () => {
    const bundle = rewrite(signedA, (files) => files.delete("warden/authz/tiers.rego"));
    expect((await refusal(bundle)).message).toContain("missing from the bundle: warden/authz/tiers.rego");
  });

  test("the signature of one bundle does not vouch for another", async () => {
    const bundle = rewrite(signedA, (files) =>
      files.set(".signatures.json", readTarGz(signedB).get(".signatures.json")!),
    );
    expect((await refusal(bundle)).code).toBe("bundle_tampered");
  });

  test("a bundle signed with RS256 is refused when ES256 is configured", async () => {
    const rsa = signingKeys(dir, "rsa");
    const bundle = buildBundle({
      out: join(dir, "rsa.tar.gz"),
      signingKey: rsa.privateKeyFile,
      signingAlg: "RS256",
    });
    const error = await refusal(bundle, { publicKeyPem: rsa.publicKeyPem, requireSignature: true });
    expect(error.message).toMatch(/cannot verify ES256/);
    await expect(
      loadBundle(bundle, { publicKeyPem: rsa.publicKeyPem, requireSignature: true, algorithm: "RS256" }),
    ).resolves.toBeDefined();
    const mismatch = await refusal(bundle, strict());
    expect(mismatch.message).toContain("signed with RS256, expected ES256");
  }, 30_000);

  test("a garbled archive is refused as malformed", async () => {
    expect((await refusal(Buffer.from("not a bundle"))).code).toBe("bundle_malformed");
  });
});

describe("bundle contents", () => {
  test("a signed bundle without the warden/authz/decision entrypoint is refused", async () => {
    const policyDir = writePolicyDir(dir, "other-entrypoint", "package warden.authz\n\nverdict := false\n");
    const bundle = buildBundle({
      dir: policyDir,
      out: join(dir, "other.tar.gz"),
      entrypoint: "warden/authz/verdict",
      signingKey: keys.privateKeyFile,
    });
    const error = await refusal(bundle);
    expect(error.code).toBe("entrypoint_missing");
    expect(error.message).toContain("warden/authz/decision");
  });

  test("a policy.wasm that cannot be instantiated is refused", async () => {
    const bundle = rewrite(unsigned, (files) => files.set("policy.wasm", Buffer.from("\0asm garbage")));
    expect((await refusal(bundle, { requireSignature: false })).code).toBe("wasm_invalid");
  });

  test("data.json with a misspelt tier match key is refused rather than silently never denying", async () => {
    const bundle = rewrite(unsigned, (files) => {
      const data = JSON.parse(files.get("data.json")!.toString("utf8")) as {
        warden: { config: { tiers: { global: { match: Record<string, unknown> }[] } } };
      };
      const rule = data.warden.config.tiers.global[0]!;
      rule.match = { ...rule.match, method: rule.match.methods };
      delete rule.match.methods;
      files.set("data.json", Buffer.from(JSON.stringify(data)));
    });
    const error = await refusal(bundle, { requireSignature: false });
    expect(error.code).toBe("data_invalid");
    expect(error.message).toContain("method");
  });

  test("a policy that allows an empty input is refused as fail-open", async () => {
    const policyDir = writePolicyDir(
      dir,
      "fail-open",
      'package warden.authz\n\ndecision := {"allow": true, "status": 200, "reason": "ok", "headers": {}, "metadata": {}}\n',
    );
    const bundle = buildBundle({
      dir: policyDir,
      out: join(dir, "fail-open.tar.gz"),
      signingKey: keys.privateKeyFile,
    });
    expect((await refusal(bundle)).code).toBe("policy_unsafe");
  });
});

describe("decisions of the wrong shape", () => {
  let policy: LoadedPolicy;

  beforeAll(async () => {
    const policyDir = writePolicyDir(
      dir,
      "wrong-shape",
      [
        "package warden.authz",
        "",
        'default decision := {"allow": false, "status": 403, "reason": "default", "headers": {}, "metadata": {}}',
        "",
        'decision := {"allow": "yes", "status": 200} if input.variant == "string-allow"',
        "",
        'decision := {"allow": true, "status": 403, "reason": "x", "headers": {}, "metadata": {}} if input.variant == "allow-403"',
        "",
        'decision := {"allow": false, "status": 200, "reason": "x", "headers": {}, "metadata": {}} if input.variant == "deny-200"',
        "",
        'decision := {"allow": true, "status": 200, "reason": "x", "headers": {"X-Bad Header": "v"}, "metadata": {}} if input.variant == "bad-header"',
        "",
      ].join("\n"),
    );
    const bundle = buildBundle({
      dir: policyDir,
      out: join(dir, "wrong-shape.tar.gz"),
      revision: "rev-wrong-shape",
    });
    policy = await loadBundle(bundle, { requireSignature: false });
  }, 30_000);

  test.each(["string-allow", "allow-403", "deny-200", "bad-header"])(
    "a %s decision is a 500 denial with a reason, never a silent allow",
    (variant) => {
      const decision = policy.evaluate({ variant });
      expect(decision).toMatchObject({ allow: false, status: 500, reason: "policy_decision_invalid" });
      expect(decision.metadata.detail).toEqual(expect.any(String));
      expect(decision.metadata.policy_revision).toBe("rev-wrong-shape");
    },
  );
});

describe("the policy holder", () => {
  test("with no bundle loaded there is no policy to serve (the authorizer then refuses with 503)", () => {
    expect(new PolicyHolder().current()).toBeUndefined();
    expect(new PolicyHolder().status()).toMatchObject({ revision: null, swaps: 0 });
  });

  test("a refused bundle leaves the last good policy serving and says why", async () => {
    const holder = new PolicyHolder();
    expect(await holder.load(signedA, strict())).toBe(true);
    expect(holder.status()).toMatchObject({ revision: "rev-a", last_error: null, swaps: 1 });

    const tampered = rewrite(signedB, (files) => files.set("data.json", Buffer.from("{}")));
    for (const bad of [unsigned, tampered, Buffer.from("junk")]) {
      expect(await holder.load(bad, strict())).toBe(false);
      expect(holder.current()?.revision).toBe("rev-a");
      expect(holder.current()!.evaluate(allowedInput)).toMatchObject({
        allow: true,
        metadata: { policy_revision: "rev-a" },
      });
    }
    expect(holder.status()).toMatchObject({
      revision: "rev-a",
      swaps: 1,
      last_error: expect.stringMatching(/^bundle_malformed: /),
    });

    expect(await holder.load(signedB, strict())).toBe(true);
    expect(holder.status()).toMatchObject({ revision: "rev-b", last_error: null, swaps: 2 });
  });

  test("requests keep being decided while a new bundle loads, by the old policy and then the new one", async () => {
    const holder = new PolicyHolder({ initial: await loadBundle(signedA, strict()) });
    const seen: string[] = [];
    let loading = true;
    const traffic = (async () => {
      while (loading) {
        const decision = holder.current()!.evaluate(allowedInput);
        expect(decision.allow).toBe(true);
        seen.push(String(decision.metadata.policy_revision));
        await new Promise((r) => setImmediate(r));
      }
    })();
    const swapped = await holder.load(signedB, strict());
    loading = false;
    await traffic;
    expect(swapped).toBe(true);
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set(seen.includes("rev-b") ? ["rev-a", "rev-b"] : ["rev-a"]));
    expect(holder.current()!.evaluate(allowedInput).metadata.policy_revision).toBe("rev-b");
  });

  test("when loads overlap, an older bundle that finishes last does not replace a newer one", async () => {
    const [a, b] = await Promise.all([loadBundle(signedA, strict()), loadBundle(signedB, strict())]);
    const finish = new Map<Buffer, () => void>();
    const holder = new PolicyHolder({
      loader: (bytes) =>
        new Promise<LoadedPolicy>((resolve) => finish.set(bytes, () => resolve(bytes === signedA ? a : b))),
    });
    const older = holder.load(signedA, strict());
    const newer = holder.load(signedB, strict());
    finish.get(signedB)!();
    expect(await newer).toBe(true);
    finish.get(signedA)!();
    expect(await older).toBe(false);
    expect(holder.revision).toBe("rev-b");
  });

  test("the build output of npm run policy:build is an OPA bundle with the expected files", () => {
    const files = [...readTarGz(readFileSync(join(dir, "a.tar.gz"))).keys()].sort();
    expect(files).toEqual(
      expect.arrayContaining([".manifest", ".signatures.json", "data.json", "policy.wasm"]),
    );
    expect(files.some((f) => f.includes("_test") || f.startsWith("tests/"))).toBe(false);
  });
});
