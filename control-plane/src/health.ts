import type { AppContext } from "./context.js";
import type { Handlers } from "./http/routes.js";

export function healthHandlers(ctx: AppContext): Handlers {
  return {
    getHealth: async () => ({ status: "ok" }),
    getReadiness: async (_request, reply) => {
      const database = await ctx.db.query("SELECT 1").then(
        () => "ok",
        () => "unavailable",
      );
      const vault =
        ctx.signer === null ? "not_configured" : (await ctx.signer.healthy()) ? "ok" : "unavailable";
      const ready = database === "ok" && vault !== "unavailable";
      return reply
        .status(ready ? 200 : 503)
        .send({ status: ready ? "ready" : "unavailable", checks: { database, vault } });
    },
  };
}
