import { execFile } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "../harness/process.js";

/**
 * docs/deployment.md's backup and restore procedures, run for real by scripts/backup-roundtrip.sh:
 * PostgreSQL (roles + pg_dump/pg_restore into a new cluster, pg_basebackup started as a copy) and
 * OpenBao (raft snapshot restored into a new OpenBao, unsealed with the original key). A migration
 * or an OpenBao change that breaks a restore fails here.
 */
const IS_ROOT = process.getuid?.() === 0;

test("a PostgreSQL and OpenBao backup restores into new servers with the same data and keys", async () => {
  if (!IS_ROOT) {
    console.warn("backup-roundtrip: skipped, not root (PostgreSQL runs as the postgres user)");
    return;
  }
  const output = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile(
      join(REPO_ROOT, "scripts", "backup-roundtrip.sh"),
      [],
      { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
  });
  expect(output).toEqual({ code: 0, out: expect.stringContaining("backup-roundtrip: ok") });
  expect(output.out).toContain("pg_dump + pg_restore into a new cluster: same migrations, rows and roles");
  expect(output.out).toContain("pg_basebackup (verified by pg_verifybackup) started as a copy");
  expect(output.out).toContain("an old signature verify");
}, 300_000);
