import js from "@eslint/js";
import tseslint from "typescript-eslint";
import prettier from "eslint-config-prettier";

export default tseslint.config(
  {
    ignores: [
      "dist/**",
      "sdk/typescript/dist/**",
      "node_modules/**",
      ".tools/**",
      "**/gen/**",
      "coverage/**",
      ".run/**",
      ".warden/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
  {
    // Dependencies point down: lib/ is the shared library, never importing the programs built on it.
    files: ["lib/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/authz-server/**", "**/extproc-server/**", "**/control-plane/**"],
              message:
                "lib/ must not import from authz-server, extproc-server or control-plane; move the code down into lib/.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["**/*.mjs", "**/*.js"],
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        fetch: "readonly",
        TextDecoder: "readonly",
        Buffer: "readonly",
        AbortSignal: "readonly",
      },
    },
  },
  {
    // The portal's one browser script (control-plane/src/portal/static/).
    files: ["control-plane/src/portal/static/*.js"],
    languageOptions: {
      globals: { document: "readonly", window: "readonly", HTMLFormElement: "readonly" },
    },
  },
  prettier,
);
