/*
 * Keyboard shortcuts for the inbox: j/k move between reports, o or Enter opens one, x selects it
 * for a bulk action, / jumps to the search box, ? shows the list of shortcuts.
 *
 * A file, not inline script: the site's CSP allows scripts from /static only. Without it the page
 * still works (links, checkboxes, the "Keyboard shortcuts" list is a plain <details>). Keys are
 * ignored while typing in a field or with Ctrl, Alt or Meta held, so browser shortcuts still work.
 */
(function () {
  "use strict";

  var table = document.getElementById("inbox-table");
  var search = document.getElementById("id_q");
  var help = document.getElementById("inbox-shortcuts");
  var selectAll = document.getElementById("inbox-select-all");
  var rows = table ? Array.prototype.slice.call(table.querySelectorAll("tr.inbox-row")) : [];
  var current = -1;

  function typing(target) {
    if (!target || !target.tagName) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function focusRow(index) {
    if (!rows.length) return;
    index = Math.max(0, Math.min(rows.length - 1, index));
    if (current >= 0 && rows[current]) rows[current].classList.remove("is-current");
    current = index;
    rows[current].classList.add("is-current");
    rows[current].focus();
  }

  function openRow() {
    var row = rows[current];
    if (row && row.dataset.href) window.location.assign(row.dataset.href);
  }

  function toggleRow() {
    var row = rows[current];
    var box = row && row.querySelector("input[type=checkbox]");
    if (box) box.checked = !box.checked;
  }

  // A click or focus inside a row makes it the current one, so j/k continue from there.
  rows.forEach(function (row, index) {
    row.addEventListener("focusin", function () {
      if (current !== index) {
        if (current >= 0 && rows[current]) rows[current].classList.remove("is-current");
        current = index;
        row.classList.add("is-current");
      }
    });
  });

  if (selectAll && rows.length) {
    selectAll.hidden = false; // only useful with script, so shown only with it
    selectAll.addEventListener("change", function () {
      rows.forEach(function (row) {
        var box = row.querySelector("input[type=checkbox]");
        if (box) box.checked = selectAll.checked;
      });
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) return;
    switch (event.key) {
      case "j":
        focusRow(current + 1);
        break;
      case "k":
        focusRow(current < 0 ? 0 : current - 1);
        break;
      case "o":
        openRow();
        break;
      case "Enter":
        // Enter on a link or button already does its own thing; on a focused row it opens it.
        if (event.target && event.target.classList && event.target.classList.contains("inbox-row")) {
          openRow();
        } else {
          return;
        }
        break;
      case "x":
        if (current < 0) focusRow(0);
        toggleRow();
        break;
      case "/":
        if (!search) return;
        search.focus();
        search.select();
        break;
      case "?":
        if (!help) return;
        help.open = !help.open;
        if (help.open) help.querySelector("summary").focus();
        break;
      default:
        return;
    }
    event.preventDefault();
  });
})();
