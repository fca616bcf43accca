/** The markup with runs of white space as one space (the templates are formatted for reading); for tests. */
export const flat = (markup: { value: string }): string =>
  markup.value
    .replace(/\s+/g, " ")
    .replace(/> </g, "><")
    .replace(/ >/g, ">")
    .replace(/> /g, ">")
    .replace(/ </g, "<");
