import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signBundle } from "../../../../../lib/src/policy-bundle/sign.js";
import { readTarGz, writeTarGz } from "../../../../../lib/src/policy-bundle/tar.js";
import { policyBundleReader, viewOfBundle } from "./policy-bundle.js";
import { renderBundleModels } from "./policy.js";

const keys = () => generateKeyPairSync("ec", { namedCurve: "P-256" });
const pem = (k: ReturnType<typeof keys>) => k.publicKey.export({ type: "spki", format: "pem" }).toString();
const data = readFileSync("policies/data.json");

function unsigned(dataJson: Buffer = data): Buffer {
  return writeTarGz([
    [".manifest", Buffer.from(JSON.stringify({ revision: "r7", roots: [""] }))],
    ["data.json", dataJson],
  ]);
}

async function signed(key: ReturnType<typeof keys>): Promise<Buffer> {
  return (await signBundle(unsigned(), { privateKey: key.privateKey, algorithm: "ES256" })).bytes;
}

describe("the policy bundle on the admin policy page", () => {
  it("lists the model allow-lists of a bundle signed with the policy key", async () => {
    const key = keys();
    const view = viewOfBundle(await signed(key), pem(key), "bundle.tar.gz");
    expect(view).toMatchObject({ ok: true, revision: "r7" });
    if (!view.ok || "error" in view.policy) throw new Error("not listed");
    expect(view.policy.rules).toContainEqual({
      level: "team",
      subject: "support",
      provider: "openai",
      models: ["gpt-4o-mini"],
    });
  });

  it("refuses an unsigned, a tampered and a foreign-signed bundle, and shows no list", async () => {
    const key = keys();
    const good = readTarGz(await signed(key));
    good.set("data.json", Buffer.from(data.toString().replace('"gpt-4o-mini"', '"gpt-5"')));
    const tampered = writeTarGz(good);
    const cases = [unsigned(), tampered, await signed(keys())];
    for (const bytes of cases) {
      const view = viewOfBundle(bytes, pem(key), "bundle.tar.gz");
      expect(view.ok).toBe(false);
      const page = renderBundleModels(view).value;
      expect(page).toContain('role="alert"');
      expect(page).toContain("refused");
      expect(page).not.toContain("gpt-4o-mini");
    }
    expect(viewOfBundle(unsigned(), pem(key), "b")).toMatchObject({ refused: /bundle_unsigned/ });
    expect(viewOfBundle(tampered, pem(key), "b")).toMatchObject({ refused: /bundle_tampered|signature/ });
    expect(viewOfBundle(Buffer.from("not a tarball"), pem(key), "b").ok).toBe(false);
  });

  it("reads the file again only when it changed, and says when it cannot be read", async () => {
    const dir = mkdtempSync(join(tmpdir(), "warden-portal-bundle-"));
    try {
      const key = keys();
      const files = { bundlePath: join(dir, "bundle.tar.gz"), publicKeyPath: join(dir, "key.pem") };
      const read = policyBundleReader(files);
      expect(await read()).toMatchObject({ ok: false, refused: /cannot read/ });
      writeFileSync(files.publicKeyPath, pem(key));
      writeFileSync(files.bundlePath, await signed(key));
      const first = await read();
      expect(first.ok).toBe(true);
      expect(await read()).toBe(first);
      writeFileSync(files.bundlePath, unsigned());
      utimesSync(files.bundlePath, new Date(), new Date(Date.now() + 5_000));
      expect((await read()).ok).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
