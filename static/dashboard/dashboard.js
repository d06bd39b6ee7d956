// Dashboard behaviour that Bootstrap and htmx do not give for free.
(function () {
  "use strict";

  // A form with data-confirm asks before it posts (engine stop, halt an account, ...).
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  // Say so when a live refresh fails, instead of silently showing old figures.
  var banner = document.getElementById("connection-lost");
  function showLost(lost) {
    if (banner) banner.classList.toggle("d-none", !lost);
  }
  document.body.addEventListener("htmx:sendError", function () { showLost(true); });
  document.body.addEventListener("htmx:responseError", function () { showLost(true); });
  document.body.addEventListener("htmx:afterSwap", function () { showLost(false); });
  window.dashboardConnectionLost = showLost;
})();
