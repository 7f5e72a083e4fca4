/*
 * Bastion's proof-of-work solver for ALTCHA v2 challenges (algorithm "SHA-256"), self-hosted.
 *
 * Markup it acts on (no inline script anywhere; the page's CSP forbids it):
 *
 *   <input type="hidden" name="altcha" data-altcha-challenge-url="/security/challenge">
 *   <p class="altcha-status" data-altcha-status aria-live="polite"></p>   (optional, same form)
 *
 * On page load it fetches a challenge, finds the counter whose derived key starts with the
 * challenge's keyPrefix, and writes base64(JSON {challenge, solution}) into the hidden input,
 * which the server checks with bastion.intake.challenge.verify_challenge. A submit before the
 * work is done waits for it and then goes ahead. Key derivation mirrors altcha's derive_key_sha:
 * cost rounds of SHA-256, the first over salt || nonce || uint32be(counter), each later one over
 * the previous digest; the key is the first keyLength bytes.
 */
(function () {
  "use strict";

  // Digests run in parallel batches: WebCrypto is asynchronous, and awaiting one digest at a time
  // spends most of the time waiting on promise hand-offs rather than hashing.
  var BATCH = 512;
  var MAX_COUNTER = 0xffffffff;

  function hexToBytes(hex) {
    if (typeof hex !== "string" || hex.length % 2 !== 0 || /[^0-9a-f]/i.test(hex)) {
      throw new Error("malformed challenge");
    }
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) {
      out[i] = parseInt(hex.substr(i * 2, 2), 16);
    }
    return out;
  }

  function bytesToHex(bytes) {
    var hex = "";
    for (var i = 0; i < bytes.length; i++) {
      hex += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    }
    return hex;
  }

  async function deriveKey(params, first) {
    var data = first;
    var digest = null;
    for (var round = 0; round < Math.max(1, params.cost); round++) {
      digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
      data = digest;
    }
    return digest.subarray(0, params.keyLength || 32);
  }

  async function solve(challenge) {
    var params = challenge && challenge.parameters;
    if (!params || params.algorithm !== "SHA-256") {
      throw new Error("unsupported challenge");
    }
    var salt = hexToBytes(params.salt);
    var nonce = hexToBytes(params.nonce);
    var prefix = String(params.keyPrefix || "").toLowerCase();
    var started = performance.now();
    for (var start = 0; start <= MAX_COUNTER; start += BATCH) {
      var pending = [];
      for (var counter = start; counter < start + BATCH && counter <= MAX_COUNTER; counter++) {
        var input = new Uint8Array(salt.length + nonce.length + 4);
        input.set(salt, 0);
        input.set(nonce, salt.length);
        new DataView(input.buffer).setUint32(salt.length + nonce.length, counter, false);
        pending.push(deriveKey(params, input));
      }
      var keys = await Promise.all(pending);
      for (var i = 0; i < keys.length; i++) {
        var hex = bytesToHex(keys[i]);
        if (hex.startsWith(prefix)) {
          return {
            counter: start + i,
            derivedKey: hex,
            time: Math.round(performance.now() - started),
          };
        }
      }
    }
    throw new Error("no solution");
  }

  function setStatus(element, state, text) {
    if (element) {
      element.dataset.state = state;
      element.textContent = text;
    }
  }

  async function run(input) {
    var form = input.form;
    var status = form ? form.querySelector("[data-altcha-status]") : null;
    setStatus(status, "working", "Running a quick anti-spam check in your browser\u2026");
    var response = await fetch(input.dataset.altchaChallengeUrl, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) {
      throw new Error("challenge request failed: " + response.status);
    }
    var challenge = await response.json();
    var solution = await solve(challenge);
    input.value = btoa(JSON.stringify({ challenge: challenge, solution: solution }));
    input.dispatchEvent(new Event("change", { bubbles: true }));
    setStatus(status, "done", "Anti-spam check done.");
  }

  function attach(input) {
    var form = input.form;
    var status = form ? form.querySelector("[data-altcha-status]") : null;
    var done = run(input).then(
      function () { return true; },
      function () {
        setStatus(status, "error",
          "The anti-spam check could not run. Reload the page to try again, or e-mail us instead.");
        return false;
      }
    );
    if (!form) {
      return;
    }
    form.addEventListener("submit", function (event) {
      if (input.value) {
        return;
      }
      // Not solved yet: hold the submission and send it once the work is done.
      event.preventDefault();
      var submitter = event.submitter || null;
      done.then(function (ok) {
        if (ok) {
          form.requestSubmit(submitter);
        }
      });
    });
  }

  function init() {
    var inputs = document.querySelectorAll("input[data-altcha-challenge-url]");
    for (var i = 0; i < inputs.length; i++) {
      attach(inputs[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
