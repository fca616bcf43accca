import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBundleServer, type BundleServer } from "../../../test/stubs/bundle-server.js";
import { FileBundleSource, HttpBundleSource } from "./sources.js";

/** Bundle sources fetch only what changed, so authz-server re-verifies a bundle only when it is new. */
async function upload(server: BundleServer, path: string, body: string, token = "up"): Promise<void> {
  const response = await fetch(`${server.url}${path}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}` },
    body,
  });
  expect(response.status).toBe(200);
}

describe("HttpBundleSource (OPA bundle service protocol)", () => {
  let server: BundleServer;
  afterEach(() => server.close());

  test("sends the last ETag and treats 304 as unchanged; a new upload is fetched", async () => {
    server = await startBundleServer({ uploadToken: "up", readToken: "read" });
    await upload(server, "/b.tar.gz", "bundle-1");
    const source = new HttpBundleSource(`${server.url}/b.tar.gz`, "read");
    expect(await source.fetch()).toMatchObject({ kind: "bundle", bytes: Buffer.from("bundle-1") });
    expect(await source.fetch()).toEqual({ kind: "unchanged" });
    expect(server.requests.at(-1)).toMatchObject({ status: 304, ifNoneMatch: server.etag("/b.tar.gz") });
    await upload(server, "/b.tar.gz", "bundle-2");
    expect(await source.fetch()).toMatchObject({ kind: "bundle", bytes: Buffer.from("bundle-2") });
  });

  test("a server without ETags does not make the same bundle count as new on every poll", async () => {
    server = await startBundleServer({ uploadToken: "up", etags: false });
    await upload(server, "/b.tar.gz", "bundle-1");
    const source = new HttpBundleSource(`${server.url}/b.tar.gz`);
    expect((await source.fetch()).kind).toBe("bundle");
    expect(await source.fetch()).toEqual({ kind: "unchanged" });
    expect(server.requests.filter((r) => r.method === "GET").map((r) => r.status)).toEqual([200, 200]);
    await upload(server, "/b.tar.gz", "bundle-2");
    expect(await source.fetch()).toMatchObject({ kind: "bundle", bytes: Buffer.from("bundle-2") });
  });

  test("errors say what the server answered, without the token", async () => {
    server = await startBundleServer({ readToken: "read-secret" });
    await expect(new HttpBundleSource(`${server.url}/missing.tar.gz`, "read-secret").fetch()).rejects.toThrow(
      "bundle server answered 404",
    );
    await expect(new HttpBundleSource(`${server.url}/missing.tar.gz`, "wrong").fetch()).rejects.toThrow(
      /^bundle server answered 401$/,
    );
  });
});

describe("FileBundleSource", () => {
  test("re-reads the file only when it was replaced", async () => {
    const dir = mkdtempSync(join(tmpdir(), "warden-sources-"));
    try {
      const path = join(dir, "bundle.tar.gz");
      writeFileSync(path, "bundle-1");
      const source = new FileBundleSource(path);
      expect(await source.fetch()).toMatchObject({ kind: "bundle", bytes: Buffer.from("bundle-1") });
      expect(await source.fetch()).toEqual({ kind: "unchanged" });
      writeFileSync(join(dir, "next"), "bundle-2");
      renameSync(join(dir, "next"), path);
      expect(await source.fetch()).toMatchObject({ kind: "bundle", bytes: Buffer.from("bundle-2") });
      await expect(new FileBundleSource(join(dir, "nope")).fetch()).rejects.toThrow("ENOENT");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
