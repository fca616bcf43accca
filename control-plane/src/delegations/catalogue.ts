import { readFileSync } from "node:fs";
import { z } from "zod";
import { shippedFile } from "../../../lib/src/shipped-file.js";

/**
 * The delegation scopes users may grant, and the services a delegation may be limited to: the
 * service→scope catalogue of the policy data (`warden.config.services.<service>.scopes.read|write`,
 * policies/data.json), so the control plane grants exactly the scopes the policy checks.
 */
export interface ScopeCatalogue {
  /** Every scope of every service. */
  scopes: ReadonlySet<string>;
  /** Service names (delegation destinations). */
  services: ReadonlySet<string>;
}

const policyData = z.object({
  warden: z.object({
    config: z.object({
      services: z.record(
        z
          .object({
            scopes: z
              .object({ read: z.array(z.string()).optional(), write: z.array(z.string()).optional() })
              .optional(),
          })
          .passthrough(),
      ),
    }),
  }),
});

export function catalogueFromPolicyData(data: unknown): ScopeCatalogue {
  const parsed = policyData.parse(data);
  const scopes = new Set<string>();
  for (const service of Object.values(parsed.warden.config.services)) {
    for (const scope of [...(service.scopes?.read ?? []), ...(service.scopes?.write ?? [])])
      scopes.add(scope);
  }
  return { scopes, services: new Set(Object.keys(parsed.warden.config.services)) };
}

/** The shipped policy data, found from src/ and from dist/ alike. */
export function defaultCatalogueFile(): string {
  return shippedFile(
    import.meta.url,
    ["../../../policies/data.json", "../../../../policies/data.json"],
    "policies/data.json not found; set WARDEN_SCOPE_CATALOGUE",
  );
}

export function loadScopeCatalogue(file: string = defaultCatalogueFile()): ScopeCatalogue {
  try {
    return catalogueFromPolicyData(JSON.parse(readFileSync(file, "utf8")));
  } catch (error) {
    throw new Error(
      `the scope catalogue ${file} is not policy data with warden.config.services: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}
