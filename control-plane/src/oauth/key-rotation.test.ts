import { publishedVersions, signingVersion, type KeyVersion } from "./key-rotation.js";

const MIN = 60_000;
const t0 = new Date("2025-01-01T00:00:00Z");
const at = (minutes: number) => new Date(t0.getTime() + minutes * MIN);
const policy = { activationDelayMs: 2 * MIN, retentionMs: 60 * MIN };

describe("token key rotation", () => {
  const versions: KeyVersion[] = [
    { version: 1, createdAt: at(0) },
    { version: 2, createdAt: at(100) },
  ];

  test("a brand-new key signs at once with its only version", () => {
    expect(signingVersion([{ version: 1, createdAt: at(0) }], at(0), policy)).toBe(1);
  });

  test("a new version is published at once but signs only after the activation delay", () => {
    expect(signingVersion(versions, at(101), policy)).toBe(1);
    expect([...publishedVersions(versions, at(101), policy)]).toEqual([1, 2]);
    expect(signingVersion(versions, at(102), policy)).toBe(2);
  });

  test("the old version stays published for the retention period after it stopped signing, then leaves", () => {
    expect([...publishedVersions(versions, at(102 + 59), policy)]).toEqual([1, 2]);
    expect([...publishedVersions(versions, at(102 + 60), policy)]).toEqual([2]);
  });

  test("versions without a creation time count as created long ago", () => {
    const unknown: KeyVersion[] = [
      { version: 1, createdAt: null },
      { version: 2, createdAt: null },
    ];
    expect(signingVersion(unknown, t0, policy)).toBe(2);
    expect([...publishedVersions(unknown, t0, policy)]).toEqual([2]);
  });
});
