// Passkeys: the browser's WebAuthn API and the JSON ceremonies under /auth/passkey/.
// No build step, no dependencies. Elements marked .js-only are shown and .no-js hidden when the
// browser can use passkeys; buttons carry data-options-url (the challenge) and data-url (the answer).
(function () {
  "use strict";
  if (window.onboardingPasskeys) return; // the file may be included more than once on a page
  window.onboardingPasskeys = true;

  function b64urlToBuffer(value) {
    var b64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var bin = atob(b64);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return bytes.buffer;
  }

  function bufferToB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return Object.assign({}, d, { id: b64urlToBuffer(d.id) });
    });
  }

  function creationOptions(json) {
    var o = Object.assign({}, json);
    o.challenge = b64urlToBuffer(json.challenge);
    o.user = Object.assign({}, json.user, { id: b64urlToBuffer(json.user.id) });
    o.excludeCredentials = descriptors(json.excludeCredentials);
    return o;
  }

  function requestOptions(json) {
    var o = Object.assign({}, json);
    o.challenge = b64urlToBuffer(json.challenge);
    o.allowCredentials = descriptors(json.allowCredentials);
    return o;
  }

  function credentialJSON(cred) {
    var r = cred.response;
    var response = { clientDataJSON: bufferToB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = bufferToB64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = bufferToB64url(r.authenticatorData);
      response.signature = bufferToB64url(r.signature);
      if (r.userHandle) response.userHandle = bufferToB64url(r.userHandle);
    }
    return {
      id: cred.id,
      rawId: bufferToB64url(cred.rawId),
      type: cred.type,
      response: response,
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    };
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body || {}),
    }).then(function (resp) {
      return resp
        .json()
        .catch(function () {
          return { detail: "Something went wrong. Please reload the page and try again." };
        })
        .then(function (data) {
          if (!resp.ok) {
            var err = new Error(data.detail || "Something went wrong. Please try again.");
            err.server = true;
            throw err;
          }
          return data;
        });
    });
  }

  function errorBox(button) {
    return button.parentElement.querySelector(".passkey-error");
  }

  function showError(button, message) {
    var box = errorBox(button);
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }

  function browserMessage(err) {
    if (err && err.server) return err.message;
    if (err && err.name === "NotAllowedError") return "The passkey request was cancelled or timed out.";
    if (err && err.name === "InvalidStateError") return "This passkey is already registered.";
    if (err && err.name === "SecurityError") return "Passkeys cannot be used on this address.";
    if (err && err.name === "AbortError") return "";
    return "The passkey could not be used: " + (err && err.message ? err.message : "unknown error") + ".";
  }

  // Runs one ceremony: options, the browser's prompt, the answer; then follows the redirect.
  function ceremony(button, kind, extra, signal) {
    showError(button, "");
    button.setAttribute("aria-busy", "true");
    button.disabled = true;
    return post(button.dataset.optionsUrl, extra && extra.options)
      .then(function (data) {
        if (kind === "create") {
          return navigator.credentials.create({ publicKey: creationOptions(data.publicKey) });
        }
        var request = { publicKey: requestOptions(data.publicKey) };
        if (signal) request.signal = signal;
        return navigator.credentials.get(request);
      })
      .then(function (cred) {
        var body = Object.assign({ credential: credentialJSON(cred) }, (extra && extra.answer) || {});
        return post(button.dataset.url, body);
      })
      .then(function (data) {
        window.location.assign(data.redirect || window.location.href);
      })
      .catch(function (err) {
        showError(button, browserMessage(err));
        button.removeAttribute("aria-busy");
        button.disabled = false;
      });
  }

  var conditional = null; // the pending autofill request on the sign-in page, if any

  function startConditional(button) {
    if (!window.PublicKeyCredential || !PublicKeyCredential.isConditionalMediationAvailable) return;
    if (!document.querySelector('input[autocomplete~="webauthn"]')) return;
    PublicKeyCredential.isConditionalMediationAvailable().then(function (ok) {
      if (!ok) return;
      conditional = new AbortController();
      var signal = conditional.signal;
      post(button.dataset.optionsUrl)
        .then(function (data) {
          return navigator.credentials.get({
            mediation: "conditional",
            publicKey: requestOptions(data.publicKey),
            signal: signal,
          });
        })
        .then(function (cred) {
          conditional = null;
          return post(button.dataset.url, { credential: credentialJSON(cred) });
        })
        .then(function (data) {
          window.location.assign(data.redirect || "/");
        })
        .catch(function (err) {
          // The server's refusal of a passkey picked from the autofill is shown; the browser's own
          // failures are not (autofill is a convenience, and the button says why if it fails too).
          if (err && err.server) showError(button, err.message);
        });
    });
  }

  function init() {
    var supported = !!(window.PublicKeyCredential && navigator.credentials);
    document.querySelectorAll(".js-only").forEach(function (el) {
      el.hidden = !supported;
    });
    document.querySelectorAll(".no-js").forEach(function (el) {
      if (!supported) {
        el.textContent = "This browser cannot use passkeys. The other ways to sign in still work.";
      } else {
        el.hidden = true;
      }
    });
    if (!supported) return;

    document.querySelectorAll("[data-passkey-add]").forEach(function (button) {
      button.addEventListener("click", function () {
        var name = document.getElementById("passkey-new-name");
        var password = document.getElementById("passkey-add-password");
        ceremony(button, "create", {
          options: password ? { password: password.value } : {},
          answer: { name: name ? name.value : "" },
        });
      });
    });
    document.querySelectorAll("[data-passkey-signin]").forEach(function (button) {
      button.addEventListener("click", function () {
        if (conditional) {
          conditional.abort();
          conditional = null;
        }
        ceremony(button, "get");
      });
      startConditional(button);
    });
    document.querySelectorAll("[data-passkey-second], [data-passkey-confirm]").forEach(function (button) {
      button.addEventListener("click", function () {
        ceremony(button, "get");
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
