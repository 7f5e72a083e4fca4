// The status form: when staff pick a new status, offer that status's canned responses and put the
// default one in the message box, unless staff have already written there themselves.
(function () {
  "use strict";
  const form = document.querySelector("form.status-form");
  if (!form) return;
  const data = document.getElementById(form.dataset.canned);
  const canned = data ? JSON.parse(data.textContent) : {};
  const target = form.querySelector("select[name=to]");
  const message = form.querySelector("textarea[name=reporter_message]");
  if (!target || !message) return;

  const picker = document.createElement("select");
  picker.id = "status_canned";
  picker.setAttribute("aria-label", "Canned response");
  const label = document.createElement("label");
  label.htmlFor = picker.id;
  label.textContent = "Canned response";
  message.parentElement.insertBefore(label, message.parentElement.firstChild);
  label.after(picker);

  let lastFilled = message.value;

  function fillFrom(body) {
    // Never overwrite what a person typed: only replace text that we put there.
    if (message.value === "" || message.value === lastFilled) {
      message.value = body;
      lastFilled = body;
    }
  }

  function offer() {
    const choices = canned[target.value] || [];
    picker.replaceChildren();
    choices.forEach(function (choice, index) {
      const option = document.createElement("option");
      option.value = String(index);
      option.textContent = choice.title;
      picker.append(option);
    });
    picker.hidden = label.hidden = choices.length === 0;
    fillFrom(choices.length ? choices[0].body : "");
  }

  picker.addEventListener("change", function () {
    const choice = (canned[target.value] || [])[Number(picker.value)];
    if (choice) fillFrom(choice.body);
  });
  target.addEventListener("change", offer);
  offer();
})();
