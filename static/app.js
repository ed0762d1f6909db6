// Small enhancements on top of htmx. Every page works without this file.
(function () {
  "use strict";

  // An expired CSRF token under htmx: the server swaps nothing (what was typed stays) and sends a fresh
  // token; put it everywhere the page keeps one, and say so at the top of the form that was sent.
  document.addEventListener("form-expired", function (event) {
    var detail = event.detail || {};
    var token = detail.token;
    if (!token) return;
    document.querySelectorAll('input[name="csrf_token"]').forEach(function (input) { input.value = token; });
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) meta.setAttribute("content", token);
    document.body.setAttribute("hx-headers", JSON.stringify({ "X-CSRFToken": token }));
    var source = event.target instanceof Element ? event.target : null;
    var form = source ? (source.closest("form") || source.querySelector("form")) : null;
    if (!form) return;
    var note = form.querySelector(".form-expired");
    if (!note) {
      note = document.createElement("p");
      note.className = "form-error form-expired";
      note.setAttribute("role", "alert");
      form.insertBefore(note, form.firstChild);
    }
    note.textContent = detail.message || "This form expired; your input is kept, send it again.";
  });

  // "Copy" buttons: data-copy names the element whose text is copied.
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-copy]") : null;
    if (!button || !navigator.clipboard) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = "value" in source && source.value ? source.value : source.innerText;
    navigator.clipboard.writeText(text.trim() + "\n").then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 2000);
    });
  });

  function reveal() {
    document.querySelectorAll("[data-copy][hidden]").forEach(function (b) {
      if (navigator.clipboard) b.hidden = false;
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", reveal);
  else reveal();
  document.addEventListener("htmx:afterSettle", reveal);
})();

// A table that scrolls sideways inside its box (phones) can be scrolled with the keyboard too.
(function () {
  "use strict";
  function focusable() {
    document.querySelectorAll("main table, main .overflow-auto").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        if (!box.hasAttribute("tabindex")) box.setAttribute("tabindex", "0");
      } else if (box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex");
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", focusable);
  else focusable();
  window.addEventListener("resize", focusable);
  document.addEventListener("htmx:afterSettle", focusable);
})();
