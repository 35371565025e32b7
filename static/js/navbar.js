// The navbar's user menu (a <details>, base.html) opens and closes by itself; this closes it on a tap or a
// click outside it and on Escape, as a menu does, so an open menu does not sit over the page.

const menu = document.getElementById("user-menu");

if (menu) {
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || !menu.open) return;
    const within = menu.contains(document.activeElement);
    menu.open = false;
    if (within) menu.querySelector("summary").focus(); // not away from the scan page's input
  });
}
