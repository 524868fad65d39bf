// A table wider than the screen scrolls inside its card (app.css, phones): make that scroll
// region reachable by keyboard and named, as WCAG asks (axe: scrollable-region-focusable).
(function () {
  function mark() {
    document.querySelectorAll("main table").forEach(function (table) {
      var scrolls = table.scrollWidth > table.clientWidth + 1;
      if (scrolls && !table.hasAttribute("tabindex")) {
        table.setAttribute("tabindex", "0");
        var caption = table.querySelector("caption");
        var heading = table.closest("section, .card");
        heading = heading && heading.querySelector("h2, h3");
        var name = (caption || heading || {}).textContent;
        table.setAttribute("aria-label", (name || "Table").trim() + " (scrolls sideways)");
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mark);
  } else {
    mark();
  }
  window.addEventListener("resize", mark);
})();
