// The scoring panel's helpers: a CVSS 3.1 calculator that writes the vector into its field, the
// score of each vector as it is typed (asked of the server, which scores with the `cvss` package),
// and CWE suggestions as staff type. Without this script the form works as plain text fields.
// The metrics and their values come from the page (json_script), never from a table kept here.
(function () {
  "use strict";
  const form = document.querySelector("form.scoring-form");
  if (!form) return;
  const scoreUrl = form.dataset.scoreUrl;
  const cweUrl = form.dataset.cweUrl;
  const metricsData = document.getElementById(form.dataset.metrics);
  const metrics = metricsData ? JSON.parse(metricsData.textContent) : [];
  const PREFIX = "CVSS:3.1/";
  // Radios belong to no form (this id names none), so the calculator's own inputs are never posted.
  const NO_FORM = "cvss-calculator-not-posted";

  function debounce(fn, ms) {
    let timer = null;
    return function () {
      const args = arguments;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  function getJson(url, signal) {
    return fetch(url, { credentials: "same-origin", signal: signal, headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      });
  }

  // --- The score beside each vector field -------------------------------------------------------

  function scoreOutput(input) {
    const output = document.createElement("output");
    output.className = "cvss-result";
    output.setAttribute("aria-live", "polite");
    output.htmlFor = input.id;
    input.after(output);
    let pending = null;
    const show = debounce(function () {
      const vector = input.value.trim();
      if (pending) pending.abort();
      output.className = "cvss-result";
      if (!vector) { output.textContent = ""; return; }
      pending = new AbortController();
      getJson(scoreUrl + "?vector=" + encodeURIComponent(vector), pending.signal)
        .then(function (result) {
          if (result.ok) {
            output.textContent = "Score " + result.body.score + " · " + result.body.severity_label;
            output.classList.add("severity-" + result.body.severity);
          } else {
            output.textContent = result.body.error || "This vector could not be scored.";
            output.classList.add("cvss-error");
          }
        })
        .catch(function (error) {
          if (error.name !== "AbortError") output.textContent = "";
        });
    }, 250);
    input.addEventListener("input", show);
    show();
    return show;
  }

  // --- The CVSS 3.1 calculator ------------------------------------------------------------------

  function calculator(input, rescore) {
    if (!metrics.length) return;
    const details = document.createElement("details");
    details.className = "cvss-calculator";
    const summary = document.createElement("summary");
    summary.textContent = "CVSS 3.1 calculator";
    details.append(summary);
    const grid = document.createElement("div");
    grid.className = "cvss-metrics";
    details.append(grid);
    const status = document.createElement("p");
    status.className = "helptext";
    details.append(status);
    // Metrics the calculator does not draw (temporal, environmental) are kept as they were typed.
    let extras = [];

    metrics.forEach(function (metric) {
      const group = document.createElement("fieldset");
      group.className = "cvss-metric";
      const legend = document.createElement("legend");
      legend.textContent = metric.name + " (" + metric.key + ")";
      group.append(legend);
      metric.values.forEach(function (pair) {
        const label = document.createElement("label");
        const radio = document.createElement("input");
        radio.type = "radio";
        radio.name = "cvss-" + metric.key;
        radio.value = pair[0];
        radio.setAttribute("form", NO_FORM);
        radio.addEventListener("change", build);
        const text = document.createElement("span");
        text.textContent = pair[1] + " (" + pair[0] + ")";
        label.append(radio, text);
        group.append(label);
      });
      grid.append(group);
    });

    function chosen(key) {
      const picked = grid.querySelector("input[name='cvss-" + key + "']:checked");
      return picked ? picked.value : null;
    }

    function missing() {
      return metrics.filter(function (metric) { return chosen(metric.key) === null; });
    }

    function explain() {
      const left = missing();
      status.textContent = left.length
        ? "Still to choose: " + left.map(function (m) { return m.name; }).join(", ") + "."
        : "";
    }

    function build() {
      explain();
      if (missing().length) return;
      const parts = metrics.map(function (metric) { return metric.key + ":" + chosen(metric.key); });
      input.value = PREFIX + parts.concat(extras).join("/");
      rescore();
    }

    function parse() {
      const base = {};
      extras = [];
      const text = input.value.trim().toUpperCase();
      const body = text.startsWith(PREFIX) ? text.slice(PREFIX.length) : "";
      body.split("/").forEach(function (part) {
        const pieces = part.split(":");
        if (pieces.length !== 2 || !pieces[0]) return;
        const isBase = metrics.some(function (metric) { return metric.key === pieces[0]; });
        if (isBase) base[pieces[0]] = pieces[1];
        else extras.push(part);
      });
      metrics.forEach(function (metric) {
        grid.querySelectorAll("input[name='cvss-" + metric.key + "']").forEach(function (radio) {
          radio.checked = base[metric.key] === radio.value;
        });
      });
      explain();
    }

    input.addEventListener("input", debounce(parse, 150));
    parse();
    const output = input.nextElementSibling;
    (output && output.tagName === "OUTPUT" ? output : input).after(details);
  }

  // --- CWE suggestions --------------------------------------------------------------------------

  function cweSuggestions(input) {
    const list = document.createElement("ul");
    list.className = "cwe-suggestions plain-list";
    list.id = input.id + "-suggestions";
    list.setAttribute("aria-label", "Matching weaknesses");
    const name = document.createElement("output");
    name.className = "cwe-name muted";
    name.setAttribute("aria-live", "polite");
    input.after(name, list);
    input.setAttribute("aria-controls", list.id);
    let pending = null;

    function fill(results, query) {
      list.replaceChildren();
      const number = query.match(/^(?:cwe)?[\s:_-]*(\d+)$/i);
      const wanted = number ? "CWE-" + String(Number(number[1])) : null;
      const exact = results.find(function (w) { return w.label === wanted; });
      name.textContent = exact ? exact.name : "";
      // The field already says exactly which weakness: nothing left to suggest.
      if (exact && query.toUpperCase() === exact.label) return;
      results.forEach(function (weakness) {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "link-button";
        button.textContent = weakness.label + " " + weakness.name;
        button.addEventListener("click", function () {
          input.value = weakness.label;
          list.replaceChildren();
          name.textContent = weakness.name;
          input.focus();
        });
        item.append(button);
        list.append(item);
      });
    }

    const search = debounce(function () {
      const query = input.value.trim();
      if (pending) pending.abort();
      if (query.length < 2 && !/^\d/.test(query)) { list.replaceChildren(); name.textContent = ""; return; }
      pending = new AbortController();
      getJson(cweUrl + "?q=" + encodeURIComponent(query), pending.signal)
        .then(function (result) { if (result.ok) fill(result.body, query); })
        .catch(function () { /* a failed look-up leaves the field as typed */ });
    }, 200);

    input.addEventListener("input", search);
    input.addEventListener("keydown", function (event) {
      if (event.key === "Escape") list.replaceChildren();
    });
    search();
  }

  const v3 = form.querySelector("input[data-cvss='3.1']");
  const v4 = form.querySelector("input[data-cvss='4.0']");
  const cwe = form.querySelector("input[name=cwe_id]");
  if (v3) calculator(v3, scoreOutput(v3));
  if (v4) scoreOutput(v4);
  if (cwe && cweUrl) cweSuggestions(cwe);
})();
