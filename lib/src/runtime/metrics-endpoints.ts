import type { SupervisorState } from "./state.js";

/**
 * Where Prometheus scrapes each running component of `warden up` (docs/observability.md): our
 * servers' status listeners and the control plane serve `/metrics`; each Envoy's admin listener
 * (loopback only) serves `/stats/prometheus`.
 */
export interface MetricsEndpoint {
  component: string;
  url: string;
}

export function metricsEndpoints(
  state: Pick<SupervisorState, "controlPlaneUrl" | "components">,
): MetricsEndpoint[] {
  const endpoints: MetricsEndpoint[] = [];
  for (const component of state.components) {
    if (component.name === "control-plane")
      endpoints.push({
        component: component.name,
        url: `${state.controlPlaneUrl.replace(/\/$/, "")}/metrics`,
      });
    else if (component.ports.status !== undefined)
      endpoints.push({
        component: component.name,
        url: `http://127.0.0.1:${component.ports.status}/metrics`,
      });
    else if (component.name.includes("envoy") && component.ports.admin !== undefined)
      endpoints.push({
        component: component.name,
        url: `http://127.0.0.1:${component.ports.admin}/stats/prometheus`,
      });
  }
  return endpoints;
}
