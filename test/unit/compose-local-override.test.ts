import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

/**
 * compose/docker-compose.local.yml runs the stack from images built on this machine. It may change
 * nothing but `image:`, for every service, so docker-compose.yml stays the one description of the
 * stack: a port, volume or command added there applies to the local stack as it is.
 */
const COMPOSE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../compose");
type Services = Record<string, Record<string, unknown>>;
const load = (name: string): { services: Services } & Record<string, unknown> =>
  parse(readFileSync(join(COMPOSE_DIR, name), "utf8"), { merge: true }) as {
    services: Services;
  } & Record<string, unknown>;

const official = load("docker-compose.yml");
const local = load("docker-compose.local.yml");

/** The local image that stands for an official one: its last path segment, the same tag. */
function localImageFor(image: string): string {
  if (image === "agent-warden:dev") return "agent-warden-local/warden:dev";
  const name = image.split("/").at(-1) ?? image;
  return `agent-warden-local/${name}`;
}

describe("docker-compose.local.yml", () => {
  test("holds services only, each with an image and nothing else", () => {
    expect(Object.keys(local)).toEqual(["services"]);
    for (const [name, service] of Object.entries(local.services))
      expect({ name, keys: Object.keys(service) }).toEqual({ name, keys: ["image"] });
  });

  test("swaps the image of every service of docker-compose.yml, and of no other", () => {
    expect(Object.keys(local.services).sort()).toEqual(Object.keys(official.services).sort());
  });

  test("each local image stands for the official one at the same version", () => {
    for (const [name, service] of Object.entries(official.services)) {
      const image = String(service.image);
      expect({ name, image: local.services[name]?.image }).toEqual({
        name,
        image: localImageFor(image),
      });
    }
  });
});
