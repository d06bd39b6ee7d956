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

  // One dialog serves every row (flatten an account): the button that opened it says which row
  // (data-action, data-subject), as the rows are re-rendered by the live refresh. Until a row's
  // button has filled it in, the dialog's form has nowhere to post and its submit stays disabled.
  document.addEventListener("show.bs.modal", function (event) {
    var form = event.target.querySelector("form[data-action-from-trigger]");
    var trigger = event.relatedTarget;
    if (!form || !trigger || !trigger.getAttribute("data-action")) return;
    form.reset();  // a reason typed for another row does not carry over
    form.setAttribute("action", trigger.getAttribute("data-action"));
    var subject = trigger.getAttribute("data-subject") || "";
    Array.prototype.forEach.call(form.querySelectorAll("[data-fill=subject]"), function (element) {
      element.textContent = subject;
    });
    form.querySelector("[type=submit]").disabled = false;
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

  // At phone width every table row becomes a stack of "label: value" lines (dashboard.css,
  // .table-stack), so a row's status and reason are on screen without scrolling sideways. The
  // labels come from the table's own header; live regions get them again after each swap.
  function labelTables(root) {
    var tables = (root || document).querySelectorAll(".table-responsive > table.table");
    Array.prototype.forEach.call(tables, function (table) {
      var headers = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      if (!headers.length) return;
      table.classList.add("table-stack");
      Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (row) {
        Array.prototype.forEach.call(row.children, function (cell, index) {
          if (!cell.hasAttribute("colspan") && headers[index]) cell.setAttribute("data-label", headers[index]);
        });
      });
    });
  }
  labelTables(document);
  document.body.addEventListener("htmx:afterSettle", function () { labelTables(document); });
})();
