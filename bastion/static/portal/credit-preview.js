/*
 * The reporter's credit: a live preview of the public line as they choose how to appear.
 *
 * The form with data-preview="ID" rewrites the element ID's name as the reporter types, by the
 * same rule the server publishes with (bastion.reports.services.credit_ledger.public_credit):
 * by name, by handle, name or handle with a link, or "Anonymous". Until the choice is saved the
 * line says so, and the confirm button is disabled: one confirms what was saved, never a draft.
 * The server renders the saved line itself, so without this script the page is complete.
 * A file, not inline script: the site's CSP allows scripts from /static only.
 */
(function () {
  "use strict";

  var form = document.getElementById("credit-form");
  if (!form) return;
  var preview = document.getElementById(form.getAttribute("data-preview"));
  var nameOut = document.getElementById("credit-preview-name");
  var note = document.getElementById("credit-preview-note");
  var confirmButton = document.getElementById("credit-confirm");
  if (!preview || !nameOut || !note) return;

  function value(name) {
    var field = form.elements.namedItem(name);
    return field && typeof field.value === "string" ? field.value.trim() : "";
  }

  function appearance() {
    var checked = form.querySelector('input[name="appearance"]:checked');
    return checked ? checked.value : "anonymous";
  }

  function publicLine() {
    var chosen = appearance();
    if (chosen === "name") return { text: value("name"), link: "" };
    if (chosen === "handle") return { text: value("handle"), link: "" };
    if (chosen === "link") return { text: value("name") || value("handle"), link: value("link") };
    return { text: preview.getAttribute("data-anonymous"), link: "" };
  }

  function state() {
    return JSON.stringify([appearance(), value("name"), value("handle"), value("link")]);
  }

  var saved = state();

  function render() {
    var line = publicLine();
    var text = line.text || "…";
    nameOut.textContent = "";
    // Only an https link is ever shown, as the server only ever publishes one.
    if (line.link && /^https:\/\/[^\s]+$/.test(line.link)) {
      var anchor = document.createElement("a");
      anchor.href = line.link;
      anchor.rel = "nofollow noopener";
      anchor.textContent = text;
      nameOut.appendChild(anchor);
    } else {
      nameOut.textContent = text;
    }
    var unsaved = state() !== saved;
    note.textContent = unsaved ? preview.getAttribute("data-unsaved") : "";
    if (confirmButton) confirmButton.disabled = unsaved;
  }

  form.addEventListener("input", render);
  form.addEventListener("change", render);
})();
