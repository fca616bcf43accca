import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The documentation names real files: every repository path written in backticks and every relative
 * markdown link must exist, so a refactor that moves a module also has to move its docs.
 */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Folders at the top of the repository that hold no documentation and are not in a clone. */
const UNTRACKED_FOLDERS = new Set([
  "node_modules",
  "dist",
  "coverage",
  ".git",
  ".tools",
  ".run",
  ".warden",
  ".bench-out",
]);

const TOP_LEVEL_FOLDERS = readdirSync(REPO_ROOT).filter(
  (name) => !UNTRACKED_FOLDERS.has(name) && statSync(join(REPO_ROOT, name)).isDirectory(),
);

/** A placeholder or pattern rather than one file: `vault/<component>.hcl`, `policies/**`, `{a,b}`. */
const PLACEHOLDER = /[<>*{}$[\]…]|\.\.\.|\|/;

/** Words in a span after the first are checked only in a command line (`npm test -- test/x.test.ts`). */
const COMMANDS = new Set(["node", "npm", "npx", "bash", "sh", "sudo", "docker", "envoy", "opa", "git"]);

/** Words that look like repository paths and are something else. */
const NOT_FILES = new Set([
  "envoy/authz/allow", // opa-envoy-plugin's policy entrypoint
  "control-plane/audit-spool.ndjson", // a file in $WARDEN_HOME (docs/running.md)
]);

function documentationFiles(): string[] {
  const docs = readdirSync(join(REPO_ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => join("docs", name));
  return ["README.md", ...docs, ...readmesUnder(TOP_LEVEL_FOLDERS)];
}

function readmesUnder(folders: readonly string[]): string[] {
  const found: string[] = [];
  for (const folder of folders) {
    for (const entry of readdirSync(join(REPO_ROOT, folder), { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory() && !UNTRACKED_FOLDERS.has(entry.name)) found.push(...readmesUnder([path]));
      else if (entry.name === "README.md") found.push(path);
    }
  }
  return found;
}

function withoutFencedCode(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
}

/** Words of inline code spans that name a repository path, resolved against the repository root. */
function backtickedPaths(markdown: string, documentDir: string): string[] {
  const paths: string[] = [];
  for (const [, span] of withoutFencedCode(markdown).matchAll(/`([^`\n]+)`/g)) {
    const words = span!.trim().split(/\s+/);
    const first = repositoryPath(words[0]!, documentDir);
    if (first !== undefined) paths.push(first);
    if (first === undefined && !COMMANDS.has(words[0]!)) continue;
    for (const word of words.slice(1)) {
      const path = repositoryPath(word, documentDir);
      if (path !== undefined) paths.push(path);
    }
  }
  return paths;
}

function repositoryPath(word: string, documentDir: string): string | undefined {
  // Trailing punctuation of the sentence, a `:line` or `:line-line` suffix, an `#anchor`.
  const candidate = word
    .replace(/^["'(]+/, "")
    .replace(/[,;.)"':]+$/, "")
    .replace(/:\d+(-\d+)?$/, "")
    .replace(/#.*$/, "");
  if (candidate === "" || PLACEHOLDER.test(candidate) || candidate.includes("://")) return undefined;
  if (NOT_FILES.has(candidate)) return undefined;
  if (candidate.startsWith("./") || candidate.startsWith("../")) {
    return relative(REPO_ROOT, resolve(REPO_ROOT, documentDir, candidate));
  }
  const top = candidate.split("/")[0]!;
  if (!candidate.includes("/") || !TOP_LEVEL_FOLDERS.includes(top)) return undefined;
  return candidate;
}

/** Targets of relative markdown links (`[text](../docs/x.md#part)`), resolved against the repository root. */
function linkedPaths(markdown: string, documentDir: string): string[] {
  const paths: string[] = [];
  for (const [, target] of withoutFencedCode(markdown).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target!) || target!.startsWith("#")) continue;
    const file = decodeURIComponent(target!.replace(/#.*$/, ""));
    paths.push(relative(REPO_ROOT, resolve(REPO_ROOT, documentDir, file)));
  }
  return paths;
}

describe("documentation names files that exist", () => {
  const documents = documentationFiles();

  it("finds the README, docs/ and the folder READMEs", () => {
    expect(documents).toEqual(
      expect.arrayContaining(["README.md", join("docs", "architecture.md"), join("envoy", "README.md")]),
    );
  });

  it.each(documents)("%s", (document) => {
    const markdown = readFileSync(join(REPO_ROOT, document), "utf8");
    const documentDir = dirname(document);
    const named = [...backtickedPaths(markdown, documentDir), ...linkedPaths(markdown, documentDir)];
    // A folder's README may name its own files from inside the folder (`spire/init.sh` in compose/).
    const missing = [...new Set(named)].filter(
      (path) => !existsSync(join(REPO_ROOT, path)) && !existsSync(join(REPO_ROOT, documentDir, path)),
    );
    expect(missing).toEqual([]);
  });
});

describe("what counts as a repository path", () => {
  it("takes paths under a top-level folder, with or without a line suffix", () => {
    const markdown =
      "see `lib/src/errors.ts:12-20`, `scripts/setup --check` and `npm test -- test/unit/x.test.ts`";
    expect(backtickedPaths(markdown, ".")).toEqual([
      "lib/src/errors.ts",
      "scripts/setup",
      "test/unit/x.test.ts",
    ]);
  });

  it("reads the other words of a span only in a command line", () => {
    expect(backtickedPaths("`_asJson lib/tools.js:152` `envoy/authz/allow`", ".")).toEqual([]);
  });

  it("skips placeholders, globs, URLs and words outside the repository's folders", () => {
    const markdown =
      "`vault/<component>.hcl` `policies/**` `spiffe://warden.local/agent/x` `warden/llm/default/openai` `a/b`";
    expect(backtickedPaths(markdown, ".")).toEqual([]);
  });

  it("resolves ./ and ../ against the document's folder and ignores fenced code", () => {
    const markdown = "`../scripts/build.mjs`\n```sh\nnode `lib/src/missing.ts`\n```\n";
    expect(backtickedPaths(markdown, "envoy")).toEqual(["scripts/build.mjs"]);
  });

  it("takes relative links and leaves web links and anchors alone", () => {
    const markdown = "[a](../docs/running.md#ports) [b](https://example.com/x) [c](#layout)";
    expect(linkedPaths(markdown, "envoy")).toEqual(["docs/running.md"]);
  });
});
