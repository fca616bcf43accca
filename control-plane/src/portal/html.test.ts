import { describe, expect, it } from "@jest/globals";
import { escapeHtml, html, raw } from "./html.js";

describe("html template", () => {
  it("escapes interpolated text so user data cannot become markup", () => {
    const name = `<script>alert("x")</script>' onmouseover='x`;
    expect(html`<p title="${name}">${name}</p>`.value).toBe(
      `<p title="${escapeHtml(name)}">${escapeHtml(name)}</p>`,
    );
    expect(html`${name}`.value).not.toContain("<script>");
  });

  it("keeps nested fragments and raw markup, joins arrays and drops empty values", () => {
    const items = ["a&b", "c"].map((t) => html`<li>${t}</li>`);
    const page = html`<ul>${items}</ul>${null}${undefined}${false}${raw("<hr>")}${0}`;
    expect(page.value).toBe("<ul><li>a&amp;b</li><li>c</li></ul><hr>0");
  });
});
