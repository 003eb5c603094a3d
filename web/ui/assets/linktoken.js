// Pages opened from a mailed link (/account/verify-email, /account/reset-password): the secret is in
// the fragment (#token=…), which never reaches a server log or a Referer. It goes into the form's
// hidden token field and out of the address bar; a form marked data-auto is sent at once.
const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
const form = document.querySelector("form:has(input[name=token])");
if (form) {
  history.replaceState(null, "", location.pathname); // keep the secret out of history and bookmarks
  if (!token) {
    form.hidden = true;
    document.getElementById("no-token").hidden = false;
  } else {
    form.elements.token.value = token;
    if ("auto" in form.dataset) form.requestSubmit();
  }
}

// The verify call answers 204: the page says so itself.
form?.addEventListener("api:done", () => {
  form.hidden = true;
  const done = document.getElementById("verified");
  done.hidden = false;
  done.querySelector("p").focus();
});
