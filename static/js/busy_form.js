// A form marked data-busy-label (the login page's): once sent, its button is disabled and says so (the label),
// so a second tap or Enter during the slow password check (0.4-1.4 s) sends nothing twice. Put back when the
// page shows again, e.g. from the back button's page cache (pageshow), where it would stay disabled.

for (const form of document.querySelectorAll("form[data-busy-label]")) {
  const button = form.querySelector("button[type=submit]");
  if (!button) continue;
  const label = button.textContent;
  form.addEventListener("submit", (event) => {
    if (form.dataset.busy === "true") {
      event.preventDefault();
      return;
    }
    form.dataset.busy = "true";
    button.disabled = true;
    button.textContent = form.dataset.busyLabel;
  });
  window.addEventListener("pageshow", () => {
    delete form.dataset.busy;
    button.disabled = false;
    button.textContent = label;
  });
}
