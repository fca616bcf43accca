import { readFileSync } from "node:fs";
import { authzConfigReference } from "../../authz-server/src/config.js";
import { controlPlaneConfigReference } from "../../control-plane/src/config.js";
import { extprocConfigReference } from "../../extproc-server/src/config.js";
import { CONFIG_DOCS_PATH, renderConfigDocs } from "../../lib/src/config-docs.js";

const SECTIONS = [authzConfigReference, extprocConfigReference, controlPlaneConfigReference];

test(`${CONFIG_DOCS_PATH} says what the configuration schemas say`, () => {
  const written = readFileSync(new URL(`../../${CONFIG_DOCS_PATH}`, import.meta.url), "utf8");
  const generated = renderConfigDocs(SECTIONS);
  if (written !== generated)
    throw new Error(
      `${CONFIG_DOCS_PATH} is out of date with the configuration schemas: run \`npm run docs:config\` and commit the result`,
    );
});

test("every variable a server reads is described", () => {
  for (const section of SECTIONS)
    for (const [name, field] of Object.entries(section.shape))
      expect({ process: section.process, name, described: (field.description ?? "").length > 0 }).toEqual({
        process: section.process,
        name,
        described: true,
      });
});
