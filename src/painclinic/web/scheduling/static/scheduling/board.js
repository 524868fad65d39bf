// Today's chair board updates its grid in place (htmx polls scheduling:board_grid every minute
// and swaps the table only, so the page keeps its scroll). Two guards, without eval (CSP):
// no update while focus is inside the grid (a nurse about to press "Open chart"), and a reply
// that is not the grid (the session ended: the log-in page) reloads the page instead.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function (event) {
    var grid = document.getElementById("board-grid");
    if (grid && event.detail.elt === grid && grid.contains(document.activeElement)) {
      event.preventDefault();
    }
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var grid = document.getElementById("board-grid");
    if (!grid || event.detail.target !== grid) {
      return;
    }
    var xhr = event.detail.xhr;
    var isGrid = xhr && xhr.status === 200 && xhr.getResponseHeader("X-Board-Grid") === "1";
    if (!isGrid) {
      event.detail.shouldSwap = false;
      window.location.reload();
    }
  });
})();
