import { html, type SafeHtml } from "../../html.js";

/**
 * Inline SVG line charts, rendered on the server: the portal's CSP allows no script and no inline
 * style, so every colour and stroke comes from classes in the static stylesheet (`chart-series-N`).
 * Each chart is an `img` with a <title> and <desc>, and the same numbers follow as a table, which is
 * what screen readers and text browsers read.
 */
export interface ChartSeries {
  name: string;
  /** One value per x label, in label order. */
  values: number[];
}

export interface ChartSpec {
  /** Unique on the page: ids of the title and description derive from it. */
  id: string;
  title: string;
  description: string;
  xLabels: string[];
  series: ChartSeries[];
  /** How a value reads in the table and on the y axis, e.g. dollars with two decimals. */
  format: (value: number) => string;
}

/** At most this many series get their own colour class; the page folds the rest into "other". */
export const MAX_SERIES = 6;

const WIDTH = 640;
const HEIGHT = 240;
const PAD = { left: 64, right: 16, top: 16, bottom: 40 };

/** A round axis maximum at or above `max` (1, 2 or 5 times a power of ten). */
export function niceCeiling(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

const fixed = (n: number): string => (Math.round(n * 10) / 10).toString();

/** Screen coordinates of one series' points. Pure, exported for tests. */
export function pointsOf(values: readonly number[], count: number, top: number): [number, number][] {
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  return values.map((value, i) => [
    PAD.left + (count <= 1 ? plotW / 2 : (plotW * i) / (count - 1)),
    PAD.top + plotH - (plotH * Math.max(0, value)) / top,
  ]);
}

export function renderLineChart(spec: ChartSpec): SafeHtml {
  const count = spec.xLabels.length;
  const max = Math.max(0, ...spec.series.flatMap((s) => s.values));
  const top = niceCeiling(max);
  const plotBottom = HEIGHT - PAD.bottom;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => ({
    y: PAD.top + (HEIGHT - PAD.top - PAD.bottom) * (1 - f),
    label: spec.format(top * f),
  }));
  // Label at most ~8 x positions so they never overlap.
  const every = Math.max(1, Math.ceil(count / 8));
  const xTicks = pointsOf(new Array<number>(count).fill(0), count, top)
    .map(([x], i) => ({ x, label: spec.xLabels[i]!, i }))
    .filter(({ i }) => i % every === 0);
  const titleId = `${spec.id}-title`;
  const descId = `${spec.id}-desc`;
  const lines = spec.series.slice(0, MAX_SERIES).map((series, index) => {
    const points = pointsOf(series.values, count, top);
    const path = points.map(([x, y]) => `${fixed(x)},${fixed(y)}`).join(" ");
    return html`<g class="chart-series chart-series-${index}">
      <polyline points="${path}"></polyline>
      ${points.map(([x, y]) => html`<circle cx="${fixed(x)}" cy="${fixed(y)}" r="3"></circle>`)}
    </g>`;
  });
  return html`<figure class="chart">
      <svg
        viewBox="0 0 ${WIDTH} ${HEIGHT}"
        role="img"
        aria-labelledby="${titleId} ${descId}"
        class="chart-svg"
      >
        <title id="${titleId}">${spec.title}</title>
        <desc id="${descId}">${spec.description}</desc>
        <g class="chart-grid" aria-hidden="true">
          ${ticks.map(
            (t) =>
              html`<line
                  x1="${PAD.left}"
                  x2="${WIDTH - PAD.right}"
                  y1="${fixed(t.y)}"
                  y2="${fixed(t.y)}"
                ></line>
                <text class="chart-y-label" x="${PAD.left - 6}" y="${fixed(t.y + 4)}">${t.label}</text>`,
          )}
          ${xTicks.map(
            (t) =>
              html`<text class="chart-x-label" x="${fixed(t.x)}" y="${plotBottom + 18}">${t.label}</text>`,
          )}
        </g>
        <g aria-hidden="true">${lines}</g>
      </svg>
      <figcaption>
        <ul class="chart-legend">
          ${spec.series.slice(0, MAX_SERIES).map(
            (s, i) =>
              html`<li>
                  <span class="chart-swatch chart-series-${i}" aria-hidden="true"></span>${s.name}
                </li>`,
          )}
        </ul>
      </figcaption>
    </figure>
    ${renderChartTable(spec)}`;
}

/** The chart's numbers as a table: one row per x label, one column per series. */
export function renderChartTable(spec: ChartSpec): SafeHtml {
  return html`<table class="data-table chart-table" aria-describedby="${spec.id}-desc">
    <caption>
      ${spec.title} (table)
    </caption>
    <thead>
      <tr>
        <th scope="col">Day</th>
        ${spec.series.map((s) => html`<th scope="col">${s.name}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${spec.xLabels.map(
        (label, i) =>
          html`<tr>
            <th scope="row">${label}</th>
            ${spec.series.map((s) => html`<td class="num">${spec.format(s.values[i] ?? 0)}</td>`)}
          </tr>`,
      )}
    </tbody>
  </table>`;
}
