// The Print button of the printable sheets (the manifest, the return note; no inline scripts).
const button = document.getElementById("print-button");
if (button) button.addEventListener("click", () => window.print());
