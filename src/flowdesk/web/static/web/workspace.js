/* flowdesk workspace: keyboard shortcuts, the help overlay, bulk selection, presence state and
   the reply tools (macro picker, article links).
   Vanilla JS, no dependencies. Every shortcut does what a click would: it moves focus, or fills
   and submits the same form a mouse user submits (so the server checks it the same way). */
(function () {
  "use strict";
  /* controls that only work with this script (e.g. "Insert in reply") are shown from here on */
  document.documentElement.classList.add("js");

  function typing(target) {
    if (!(target instanceof Element)) return false;
    if (target.isContentEditable) return true;
    if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
    if (target instanceof HTMLInputElement) {
      return !["checkbox", "radio", "button", "submit", "reset"].includes(target.type);
    }
    return false;
  }

  /* --- the help overlay: a modal dialog, Esc closes, Tab stays inside ---------------------- */
  var lastFocus = null;
  function help() { return document.getElementById("shortcuts-help"); }
  function openHelp() {
    var d = help();
    if (!d || d.open) return;
    lastFocus = document.activeElement;
    d.showModal();
    var close = d.querySelector("[data-close-help]");
    if (close) close.focus();
  }
  function closeHelp() {
    var d = help();
    if (d && d.open) d.close();
  }
  document.addEventListener("close", function (e) {
    if (e.target === help() && lastFocus instanceof HTMLElement) lastFocus.focus();
  }, true);
  document.addEventListener("click", function (e) {
    if (e.target instanceof Element && e.target.closest("[data-close-help]")) closeHelp();
  });
  function trapFocus(e) {
    var d = help();
    var items = Array.prototype.filter.call(
      d.querySelectorAll("a[href], button, input, select, textarea, [tabindex]:not([tabindex='-1'])"),
      function (el) { return !el.disabled; });
    if (!items.length) { e.preventDefault(); return; }
    var first = items[0], last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
    else if (!d.contains(document.activeElement)) { e.preventDefault(); first.focus(); }
  }

  /* --- the inbox: a current row moved with j/k ------------------------------------------- */
  var current = -1;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("[data-ticket-row]")); }
  function move(step) {
    var all = rows();
    if (!all.length) return;
    current = Math.max(0, Math.min(all.length - 1, current + step));
    all.forEach(function (r, i) {
      if (i === current) r.setAttribute("aria-current", "true"); else r.removeAttribute("aria-current");
    });
    var link = all[current].querySelector("a.ticket-link");
    if (link) link.focus();
  }
  function currentRow() { var all = rows(); return current >= 0 ? all[current] : null; }

  function updateSelected() {
    var out = document.getElementById("bulk-selected");
    var n = document.querySelectorAll("input[name='ticket'][form='bulk-form']:checked").length;
    if (out) out.textContent = n ? "(" + n + " selected)" : "";
  }
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (!(t instanceof HTMLInputElement)) return;
    if (t.hasAttribute("data-select-all")) {
      document.querySelectorAll("input[name='ticket'][form='bulk-form']").forEach(function (box) {
        box.checked = t.checked;
      });
    }
    if (t.name === "ticket" || t.hasAttribute("data-select-all")) updateSelected();
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.target && e.target.id === "ticket-list") { current = -1; updateSelected(); }
  });

  /* --- the ticket page ------------------------------------------------------------------- */
  function startMessage(kind) {
    var radio = document.querySelector("#reply input[name='kind'][value='" + kind + "']");
    var body = document.getElementById("reply-body");
    if (!body) return false;
    if (radio) radio.checked = true;
    body.focus();
    return true;
  }
  function submitField(id, value) {
    var select = document.getElementById(id);
    var form = document.getElementById("fields-form");
    if (!select || !form) return false;
    select.value = value;
    form.requestSubmit();
    return true;
  }

  /* the macro picker: opened and its search focused (m) */
  function openMacros() {
    var panel = document.getElementById("macros");
    var search = document.getElementById("macro-q");
    if (!panel || !search) return false;
    panel.open = true;
    search.focus();
    return true;
  }

  /* an article link: its title and address into the reply, at the cursor */
  document.addEventListener("click", function (e) {
    var button = e.target instanceof Element && e.target.closest("[data-insert-link]");
    var body = document.getElementById("reply-body");
    if (!button || !body) return;
    var text = button.getAttribute("data-title") + ": " + button.getAttribute("data-url");
    var start = body.selectionStart, end = body.selectionEnd, value = body.value;
    var before = value.slice(0, start), after = value.slice(end);
    if (before && !/\s$/.test(before)) text = " " + text;
    if (after && !/^\s/.test(after)) text += " ";
    body.value = before + text + after;
    body.focus();
    body.selectionStart = body.selectionEnd = before.length + text.length;
    body.dispatchEvent(new Event("input", { bubbles: true }));
  });

  /* presence: "replying" while the reply box has focus or text; told to the server at once */
  function presenceState() {
    var body = document.getElementById("reply-body");
    var replying = body && (document.activeElement === body || body.value.trim() !== "");
    return replying ? "replying" : "viewing";
  }
  function refreshPresence() {
    var input = document.getElementById("presence-state");
    if (!input) return;
    var state = presenceState();
    if (input.value !== state) {
      input.value = state;
      if (window.htmx) window.htmx.trigger(document.body, "presence-change");
    }
  }
  ["focusin", "focusout", "input"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      if (e.target instanceof Element && e.target.id === "reply-body") setTimeout(refreshPresence, 0);
    });
  });
  window.addEventListener("pagehide", function () {
    var box = document.getElementById("presence");
    if (!box || !navigator.sendBeacon) return;
    var token = "";
    try { token = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; }
    catch (err) { token = ""; }
    var data = new FormData();
    data.append("state", "gone");
    data.append("csrfmiddlewaretoken", token);
    navigator.sendBeacon(box.getAttribute("data-presence-url"), data);
  });

  /* --- the keys -------------------------------------------------------------------------- */
  document.addEventListener("keydown", function (e) {
    var d = help();
    if (d && d.open) {
      if (e.key === "Tab") trapFocus(e);
      return; /* Esc: the dialog closes itself */
    }
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented || typing(e.target)) return;
    var done = false;
    switch (e.key) {
      case "?": openHelp(); done = true; break;
      case "j": move(1); done = rows().length > 0; break;
      case "k": move(-1); done = rows().length > 0; break;
      case "Enter": {
        var row = currentRow();
        var link = row && row.querySelector("a.ticket-link");
        if (link && document.activeElement !== link) { window.location.href = link.href; done = true; }
        break;
      }
      case "x": {
        var r = currentRow();
        var box = r && r.querySelector("input[name='ticket']");
        if (box) { box.checked = !box.checked; updateSelected(); done = true; }
        break;
      }
      case "r": done = startMessage("reply"); break;
      case "n": done = startMessage("note"); break;
      case "m": done = openMacros(); break;
      case "a": {
        var assignee = document.getElementById("f-assignee");
        done = !!assignee && submitField("f-assignee", assignee.getAttribute("data-me") || "");
        break;
      }
      case "s": done = submitField("f-status", "solved"); break;
      default: break;
    }
    if (done) e.preventDefault();
  });
})();
