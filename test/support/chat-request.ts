/** The smallest OpenAI chat completion an agent sends: the request body the data-plane suites use. */
export const CHAT_BODY = JSON.stringify({
  model: "gpt-4o-mini",
  messages: [{ role: "user", content: "hi" }],
});
