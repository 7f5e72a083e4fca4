/*
 * Draft saving for the report form, in this browser only (localStorage; nothing leaves it).
 *
 * A form with data-draft="NAME" has its text fields saved under "bastion-draft:NAME" on every
 * input, and restored on load into fields the server left empty (after an error the server's
 * copy wins). The confirmation page carries data-draft-clear="NAME": only a report that was
 * received clears its draft, so a failed or abandoned submission never loses the text.
 * A file, not inline script: the site's CSP allows scripts from /static only.
 */
(function () {
  "use strict";

  var PREFIX = "bastion-draft:";
  // Never saved: the honeypot, the per-render token, the challenge proof, the CSRF token, files.
  var SKIP = { website: true, form_token: true, altcha: true, csrfmiddlewaretoken: true };

  function storage() {
    try {
      return window.localStorage;
    } catch (error) {
      return null; // storage disabled (private mode, policy): the form still works without drafts
    }
  }

  function textFields(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      if (!el.name || SKIP[el.name]) return false;
      if (el.tagName === "TEXTAREA") return true;
      return el.tagName === "INPUT" && (el.type === "text" || el.type === "email");
    });
  }

  function setUp(form, store) {
    var key = PREFIX + form.getAttribute("data-draft");
    var saved = {};
    try {
      saved = JSON.parse(store.getItem(key) || "{}") || {};
    } catch (error) {
      saved = {};
    }
    textFields(form).forEach(function (el) {
      if (!el.value && typeof saved[el.name] === "string") el.value = saved[el.name];
    });
    form.addEventListener("input", function () {
      var draft = {};
      textFields(form).forEach(function (el) {
        if (el.value) draft[el.name] = el.value;
      });
      try {
        store.setItem(key, JSON.stringify(draft));
      } catch (error) {
        // quota exceeded: keep going without a draft rather than break typing
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var store = storage();
    if (!store) return;
    document.querySelectorAll("[data-draft-clear]").forEach(function (el) {
      store.removeItem(PREFIX + el.getAttribute("data-draft-clear"));
    });
    document.querySelectorAll("form[data-draft]").forEach(function (form) {
      setUp(form, store);
    });
  });
})();
