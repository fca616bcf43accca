/**
 * A line chart of latency against offered rate, one colour per system, p50 solid and p99 dashed,
 * on a log scale (the systems differ by orders of magnitude). A point where the system did not
 * keep up with the offered rate (achieved < 90%) is drawn hollow. Pure: data in, SVG text out.
 */
export interface ChartPoint {
  rate: number;
  p50: number;
  p99: number;
  achieved: number;
}

export interface ChartSeries {
  name: string;
  points: ChartPoint[];
}

const WIDTH = 820;
const HEIGHT = 460;
const MARGIN = { left: 70, right: 200, top: 50, bottom: 55 };
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"];
const FONT = "DejaVu Sans, Arial, sans-serif";

const escapeXml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function decadeTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let exp = Math.floor(Math.log10(min)); exp <= Math.ceil(Math.log10(max)); exp++) ticks.push(10 ** exp);
  return ticks;
}

const label = (value: number): string => (value >= 1 ? String(value) : value.toString());

export function latencyChartSvg(title: string, series: readonly ChartSeries[]): string {
  const rates = [...new Set(series.flatMap((s) => s.points.map((p) => p.rate)))].sort((a, b) => a - b);
  const values = series.flatMap((s) => s.points.flatMap((p) => [p.p50, p.p99])).filter((v) => v > 0);
  const ticks = decadeTicks(Math.min(...values, 1), Math.max(...values, 1));
  const yMin = Math.log10(ticks[0]!);
  const yMax = Math.log10(ticks[ticks.length - 1]!);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (rate: number) =>
    MARGIN.left + (rates.length === 1 ? plotW / 2 : (rates.indexOf(rate) / (rates.length - 1)) * plotW);
  const y = (ms: number) =>
    MARGIN.top + plotH - ((Math.log10(Math.max(ms, ticks[0]!)) - yMin) / (yMax - yMin)) * plotH;

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="${FONT}" font-size="13">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="28" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  for (const tick of ticks) {
    const ty = y(tick);
    parts.push(
      `<line x1="${MARGIN.left}" y1="${ty}" x2="${MARGIN.left + plotW}" y2="${ty}" stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 8}" y="${ty + 4}" text-anchor="end">${label(tick)}</text>`,
    );
  }
  for (const rate of rates) {
    parts.push(
      `<line x1="${x(rate)}" y1="${MARGIN.top}" x2="${x(rate)}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`,
      `<text x="${x(rate)}" y="${MARGIN.top + plotH + 20}" text-anchor="middle">${rate}</text>`,
    );
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 12}" text-anchor="middle">offered rate (requests/s)</text>`,
    `<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">latency (ms, log scale)</text>`,
  );
  series.forEach((s, index) => {
    const colour = COLOURS[index % COLOURS.length]!;
    const points = [...s.points].sort((a, b) => a.rate - b.rate);
    for (const [field, dash] of [
      ["p50", ""],
      ["p99", ' stroke-dasharray="6 4"'],
    ] as const) {
      const path = points.map((p, i) => `${i === 0 ? "M" : "L"}${x(p.rate)} ${y(p[field])}`).join(" ");
      parts.push(`<path d="${path}" fill="none" stroke="${colour}" stroke-width="2"${dash}/>`);
      for (const p of points) {
        const kept = p.achieved >= 0.9 * p.rate;
        parts.push(
          `<circle cx="${x(p.rate)}" cy="${y(p[field])}" r="4" stroke="${colour}" stroke-width="2" fill="${kept ? colour : "white"}"/>`,
        );
      }
    }
    const ly = MARGIN.top + 10 + index * 22;
    const lx = MARGIN.left + plotW + 16;
    parts.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${colour}" stroke-width="3"/>`,
      `<text x="${lx + 30}" y="${ly + 4}">${escapeXml(s.name)}</text>`,
    );
  });
  const ly = MARGIN.top + 20 + series.length * 22;
  const lx = MARGIN.left + plotW + 16;
  parts.push(
    `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="#555" stroke-width="2"/>`,
    `<text x="${lx + 30}" y="${ly + 4}">p50</text>`,
    `<line x1="${lx}" y1="${ly + 20}" x2="${lx + 24}" y2="${ly + 20}" stroke="#555" stroke-width="2" stroke-dasharray="6 4"/>`,
    `<text x="${lx + 30}" y="${ly + 24}">p99</text>`,
    `<circle cx="${lx + 12}" cy="${ly + 42}" r="4" stroke="#555" stroke-width="2" fill="white"/>`,
    `<text x="${lx + 30}" y="${ly + 46}">fell behind</text>`,
    `<text x="${lx + 30}" y="${ly + 62}">(&lt;90% of the rate)</text>`,
    "</svg>",
  );
  return parts.join("\n");
}
