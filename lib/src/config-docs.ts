import { fieldDocs, type ConfigSection } from "./config.js";

export const CONFIG_DOCS_PATH = "docs/configuration.md";

const HEADER = `# Configuration reference

<!-- Generated from the configuration schemas by \`npm run docs:config\`; edit the schemas, not this file. -->

Each server reads its configuration from environment variables, validated at start-up through one
schema per process. A wrong value stops the process with exit code 78 (EX_CONFIG) and one line per
wrong value, naming the variable and the reason; an empty variable counts as unset. The same name in
two processes is listed under each, with what it means there.`;

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

function defaultCell(required: boolean, fallback: string | null): string {
  if (fallback !== null) return `\`${cell(fallback)}\``;
  return required ? "(required)" : "—";
}

function renderSection(section: ConfigSection): string {
  const rows = fieldDocs(section.shape).map((field) => {
    const meaning = field.secret
      ? `${field.description} A secret: never logged or echoed.`
      : field.description;
    return `| \`${field.name}\` | ${defaultCell(field.required, field.fallback)} | ${cell(meaning)} |`;
  });
  return [
    `## ${section.process}`,
    "",
    section.intro,
    "",
    "| variable | default | meaning |",
    "| --- | --- | --- |",
    ...rows,
  ].join("\n");
}

/** The whole of docs/configuration.md. */
export function renderConfigDocs(sections: readonly ConfigSection[]): string {
  return `${[HEADER, ...sections.map(renderSection)].join("\n\n")}\n`;
}
