// Progressive enhancement only: every page works without this file. Forms marked
// data-confirm ask before they submit (revoke, disconnect, reject).
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) event.preventDefault();
});
// A form that came back with errors: its summary takes the focus, so a screen reader reads it first
// (the summary's autofocus attribute does the same where the browser honours it).
const errorSummary = document.querySelector(".error-summary");
if (errorSummary) errorSummary.focus();
