import { choiceGroup, errorSummary, selectInput, textInput } from "./fields.js";
import { emptyForm, type FieldSpec, type FormState } from "./form.js";

const NAME: FieldSpec = { name: "name", label: "Name", hint: "lower-case letters" };
const CAPS: FieldSpec = { name: "capabilities", label: "Capabilities" };

const failed: FormState = {
  values: { name: `Bad "Name" <script>`, capabilities: ["llm:chat"] },
  errors: { name: ["must look like this: lower-case letters"] },
  general: ["this agent already has a submission waiting for review"],
};

describe("form inputs", () => {
  test("a wrong input is marked invalid, described by its hint and its error, and keeps what was typed (escaped)", () => {
    const markup = textInput(NAME, failed, { required: true }).value;
    expect(markup).toContain('<label for="f-name">Name</label>');
    expect(markup).toContain('aria-describedby="f-name-hint f-name-error"');
    expect(markup).toContain('aria-invalid="true"');
    expect(markup).toContain('id="f-name-error"');
    expect(markup).toContain('value="Bad &quot;Name&quot; &lt;script&gt;"');
    expect(markup).not.toContain("<script>");
  });

  test("a fresh input is neither invalid nor described by an error", () => {
    const markup = textInput(NAME, emptyForm()).value;
    expect(markup).toContain('aria-describedby="f-name-hint"');
    expect(markup).not.toContain("aria-invalid");
    expect(markup).toContain('value=""');
  });

  test("a text area shows a posted list one item per line", () => {
    const state = emptyForm({ capabilities: "llm:chat\ngithub:repo.read" });
    expect(textInput(CAPS, state, { multiline: true }).value).toContain(
      ">llm:chat\ngithub:repo.read</textarea>",
    );
  });

  test("the error summary is focused, announced, and links each wrong input", () => {
    const markup = String(errorSummary(failed, [NAME, CAPS]));
    expect(markup).toMatch(/role="alert"\s+tabindex="-1"\s+autofocus/);
    expect(markup).toContain('<a href="#f-name">Name must look like this: lower-case letters</a>');
    expect(markup).toContain("<li>this agent already has a submission waiting for review</li>");
    expect(markup).not.toContain("#f-capabilities");
    expect(errorSummary(emptyForm(), [NAME])).toBe("");
  });

  test("checkboxes keep their ticks, each with its own label, in a fieldset named by its legend", () => {
    const markup = choiceGroup(
      CAPS,
      [
        { value: "llm:chat", label: "llm:chat" },
        { value: "drive:read", label: "drive:read" },
      ],
      failed,
      "checkbox",
    ).value;
    expect(markup).toContain("<legend>Capabilities</legend>");
    expect(markup).toMatch(/id="f-capabilities-0"\s+name="capabilities"\s+value="llm:chat"\s+checked/);
    expect(markup).toMatch(/value="drive:read"\s+\/>/);
    expect(markup).toContain('<label class="check" for="f-capabilities-1">');
  });

  test("a select keeps the chosen option", () => {
    const markup = selectInput(
      { name: "agent_id", label: "Agent" },
      [
        { value: "a", label: "alpha" },
        { value: "b", label: "beta" },
      ],
      emptyForm({ agent_id: "b" }),
    ).value;
    expect(markup).toMatch(/<option value="b"\s+selected>/);
    expect(markup).not.toMatch(/<option value="a"\s+selected>/);
  });
});
