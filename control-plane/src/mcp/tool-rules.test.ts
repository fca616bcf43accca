import { checkToolRules, ruleReferences, rulePath, unknownReferenceWarnings } from "./tool-rules.js";

describe("tool rules documents", () => {
  test("paths name record keys in brackets, the way an owner reads them", () => {
    expect(rulePath(["tools", "create_file", "approval"])).toBe('tools["create_file"].approval');
    expect(rulePath(["prompts", "a.b", "agents", 2])).toBe('prompts["a.b"].agents[2]');
    expect(rulePath(["default"])).toBe("default");
    expect(rulePath([])).toBe("body");
  });

  test("an empty document is valid and means default deny", () => {
    expect(checkToolRules({})).toEqual({
      ok: true,
      rules: { default: "deny", tools: {}, prompts: {}, resources: {} },
    });
  });

  test("every wrong field is named with its path and what was expected", () => {
    const checked = checkToolRules({
      default: "allow",
      tools: {
        create_file: { approval: "yes", agents: "bot", min_kya_level: 0 },
        "x*y": { deny: true },
        read: { scopes: [""] },
      },
      resources: { "file://*": { audit: true } },
      other: 1,
    });
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    expect(checked.problems).toEqual(
      expect.arrayContaining([
        { field: 'tools["create_file"].approval', message: 'expected "none" or "required"' },
        { field: 'tools["create_file"].agents', message: "expected array, got string" },
        { field: 'tools["create_file"].min_kya_level', message: "must be at least 1" },
        { field: 'tools["x*y"]', message: "only a trailing '*' is a wildcard" },
        { field: 'tools["read"].scopes[0]', message: "must be at least 1 character long" },
        { field: 'resources["file://*"].audit', message: "is not a known field" },
        { field: "other", message: "is not a known field" },
      ]),
    );
    expect(checked.problems).toHaveLength(7);
  });

  test("a document that is not an object says so", () => {
    expect(checkToolRules([])).toEqual({
      ok: false,
      problems: [{ field: "body", message: "expected object, got array" }],
    });
  });

  test("names no registered agent or team has become warnings, each at its field; '*' never does", () => {
    const checked = checkToolRules({
      tools: {
        list: { agents: ["bot", "*", "spiffe://warden.local/agent/known"], teams: ["eng", "ghosts"] },
        "get_*": { agents: ["bot"] },
      },
    });
    if (!checked.ok) throw new Error("valid document refused");
    const warnings = unknownReferenceWarnings(
      ruleReferences(checked.rules),
      { agents: new Set(["spiffe://warden.local/agent/known"]), teams: new Set(["eng"]) },
      "acme",
    );
    expect(warnings).toEqual([
      { field: 'tools["list"].agents[0]', message: 'no agent "bot" is registered in tenant acme (yet)' },
      { field: 'tools["get_*"].agents[0]', message: 'no agent "bot" is registered in tenant acme (yet)' },
      {
        field: 'tools["list"].teams[1]',
        message: 'no agent of team "ghosts" is registered in tenant acme (yet)',
      },
    ]);
  });
});
