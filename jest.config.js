// Two projects: fast unit tests (pure logic, no servers) and integration tests that start
// the real components (Envoy, SPIRE, OpenBao, PostgreSQL) through test/harness.
const common = {
  preset: "ts-jest/presets/default-esm",
  extensionsToTreatAsEsm: [".ts"],
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  transform: { "^.+\\.ts$": ["ts-jest", { useESM: true }] },
  modulePathIgnorePatterns: ["<rootDir>/.tools/", "<rootDir>/dist/", "<rootDir>/.run/"],
  testEnvironment: "node",
};

export default {
  projects: [
    {
      ...common,
      displayName: "unit",
      testMatch: ["<rootDir>/**/src/**/*.test.ts", "<rootDir>/test/unit/**/*.test.ts"],
      testPathIgnorePatterns: ["/node_modules/", "/dist/", "/.tools/"],
    },
    {
      ...common,
      displayName: "integration",
      testMatch: ["<rootDir>/test/integration/**/*.test.ts"],
      testPathIgnorePatterns: ["/node_modules/", "/dist/", "/.tools/"],
    },
  ],
};
