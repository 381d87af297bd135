/* flowdesk live chat widget, served by your flowdesk server at /static/chat/widget.js; a site embeds
   it with the one script tag POST /api/chat/sites answers (data-site="cs_...", see docs/chat.md).
   Optional, before it: window.flowdeskChat = {userId: "42", identifierHash: "<hex HMAC>", name: "", email: ""}. */
(function () {
  "use strict";
  var me = document.currentScript || document.querySelector("script[data-site]");
  if (!me || window.__flowdeskChat) return;
  window.__flowdeskChat = 1;
  var opts = window.flowdeskChat || {}, key = me.getAttribute("data-site");
  var base = me.src.replace(/\/static\/chat\/widget\.js.*$/, "") + "/chat/v1/" + key + "/";
  var store = "flowdesk-chat-" + key, token = "", cursor = 0, stamp = "", lastMine = 0, cfg = null;
  var ended = false, typingSent = 0, timer = null, es = null, loaded = 0;
  /* English until the config brings the texts in the page's language (GET config?lang=). */
  var T = {launcher: "Chat with us", dialog: "Chat", name: "Name", email: "E-mail", message: "Message",
    optional: "%(field)s (optional)", start: "Start chat", send: "Send", end: "End chat",
    your_message: "Your message", support: "Support", typing: "%(name)s is typing…", seen: "Seen",
    ended: "This chat has ended.", offline_sent: "Thanks! We will answer by e-mail.", failed: "Something went wrong."};
  function opt(label, optional) { return optional ? T.optional.replace("%(field)s", label) : label; }
  try { token = localStorage.getItem(store) || ""; } catch (e) {}

  function el(tag, attrs, text) {
    var n = document.createElement(tag);
    for (var k in attrs) n.setAttribute(k, attrs[k]);
    if (text) n.textContent = text;
    return n;
  }
  function call(path, method, data) {
    var h = {"Content-Type": "application/json"};
    if (token) h.Authorization = "Bearer " + token;
    return fetch(base + path, {method: method || "GET", headers: h, body: data ? JSON.stringify(data) : undefined})
      .then(function (r) {
        return r.status === 204 ? {} : r.json().then(function (j) { if (!r.ok) { j.status = r.status; throw j; } return j; });
      });
  }
  var css = ".fdc{position:fixed;right:1rem;bottom:1rem;z-index:2147483000;font:14px/1.4 system-ui,sans-serif;color:#222}" +
    ".fdc button{cursor:pointer;border:0;border-radius:1rem;padding:.5rem 1rem;background:#1f5fbf;color:#fff}" +
    ".fdc .p{width:20rem;max-width:90vw;background:#fff;border:1px solid #ccc;border-radius:.6rem;box-shadow:0 4px 16px #0003;padding:.8rem;margin-bottom:.5rem}" +
    ".fdc ol{list-style:none;margin:0;padding:0;max-height:18rem;overflow-y:auto}" +
    ".fdc li{margin:.3rem 0;padding:.35rem .55rem;border-radius:.5rem;max-width:85%;white-space:pre-wrap;background:#eef1f5}" +
    ".fdc li.customer{background:#dbe8ff;margin-left:auto}.fdc small{display:block;color:#666}" +
    ".fdc input,.fdc textarea{width:100%;box-sizing:border-box;margin:.2rem 0 .4rem;padding:.35rem;font:inherit}" +
    ".fdc .e{color:#b00020}";
  var root = el("div", {"class": "fdc"}), panel = el("div", {"class": "p", role: "dialog", "aria-label": T.dialog});
  var launcher = el("button", {type: "button", "aria-expanded": "false"}, T.launcher);
  panel.hidden = true;
  root.appendChild(el("style", {}, css));
  root.appendChild(panel); root.appendChild(launcher);
  var msgs = el("ol", {"aria-live": "polite"}), typing = el("small", {"aria-live": "polite"}), seen = el("small", {});
  var err = el("p", {"class": "e", role: "alert"});

  function field(form, name, label, area, value) {
    var id = "fdc-" + name, inp = el(area ? "textarea" : "input", {id: id, name: name});
    if (!area) inp.type = name === "email" ? "email" : "text";
    if (value) inp.value = value;
    form.appendChild(el("label", {"for": id}, label)); form.appendChild(inp);
    return inp;
  }
  function problem(j) {
    err.textContent = j && j.errors ? j.errors.map(function (x) { return x.field + ": " + x.message; }).join("; ") : (j && j.detail) || T.failed;
  }
  function prechat() {
    panel.textContent = "";
    var off = !cfg.online, form = el("form", {});
    panel.appendChild(el("p", {}, off ? cfg.offline_text : cfg.greeting));
    var n = field(form, "name", opt(T.name, !cfg.name_required), false, opts.name);
    var m = field(form, "email", opt(T.email, !(off || cfg.email_required)), false, opts.email);
    var t = field(form, "message", opt(T.message, !off), true);
    form.appendChild(el("button", {type: "submit"}, off ? T.send : T.start));
    form.appendChild(err);
    panel.appendChild(form);
    form.onsubmit = function (e) {
      e.preventDefault();
      var data = {name: n.value, email: m.value, message: t.value, page_url: location.href, language: navigator.language || ""};
      if (opts.userId) { data.user_id = String(opts.userId); data.identifier_hash = opts.identifierHash || ""; }
      if (token) data.previous_token = token;
      call("conversations", "POST", data).then(function (c) {
        token = c.token;
        try { localStorage.setItem(store, token); } catch (x) {}
        if (c.offline) { panel.textContent = ""; panel.appendChild(el("p", {}, T.offline_sent)); token = ""; return; }
        chat();
      }, problem);
    };
  }
  function show(m) {
    var li = el("li", {"class": m.author, id: "fdc-m" + m.id});
    if (m.author !== "customer") li.appendChild(el("small", {}, m.name || T.support));
    li.appendChild(document.createTextNode(m.body));
    msgs.appendChild(li);
    if (m.author === "customer") lastMine = m.id;
  }
  function apply(ev) {
    if (!ev.messages) return;  // 204: nothing changed
    var theirs = false;
    stamp = ev.stamp || "";
    ev.messages.forEach(function (m) { if (!document.getElementById("fdc-m" + m.id)) show(m); if (m.author !== "customer") theirs = true; });
    if (ev.messages.length) msgs.scrollTop = msgs.scrollHeight;
    cursor = Math.max(cursor, ev.cursor);
    typing.textContent = ev.typing ? T.typing.replace("%(name)s", ev.typing_name || T.support) : "";
    seen.textContent = lastMine && ev.seen >= lastMine ? T.seen : "";
    if (theirs && !panel.hidden) call("seen", "POST", {message_id: cursor});
    if (ev.ended && !ended) { ended = true; panel.appendChild(el("p", {}, T.ended)); }
  }
  function poll() {
    call("events?after=" + cursor + "&v=" + encodeURIComponent(stamp)).then(apply, function (j) { if (j && j.status === 401) { token = ""; ended = true; } })
      .then(function () { if (!ended) timer = setTimeout(poll, cfg.poll_ms || 2000); });
  }
  function listen() {
    es = new EventSource(base + "stream?after=" + cursor + "&token=" + encodeURIComponent(token));
    es.onmessage = function (e) { apply(JSON.parse(e.data)); if (ended) es.close(); };
    es.onerror = function () { if (es.readyState === 2) { es = null; poll(); } };
  }
  function chat() {
    panel.textContent = "";
    var form = el("form", {}), box = field(form, "body", T.your_message, true);
    form.appendChild(el("button", {type: "submit"}, T.send));
    var end = el("button", {type: "button"}, T.end);
    form.appendChild(document.createTextNode(" ")); form.appendChild(end);
    panel.appendChild(msgs); panel.appendChild(typing); panel.appendChild(seen); panel.appendChild(form); panel.appendChild(err);
    form.onsubmit = function (e) {
      e.preventDefault();
      var body = box.value.trim();
      if (!body || ended) return;
      box.value = ""; err.textContent = "";
      call("messages", "POST", {body: body}).then(function () { if (!es) { clearTimeout(timer); poll(); } }, problem);
    };
    box.oninput = function () {
      var now = Date.now();
      if (now - typingSent > 2000) { typingSent = now; call("typing", "POST", {typing: true}); }
    };
    end.onclick = function () {
      call("end", "POST").then(function () {
        if (!ended) { ended = true; panel.appendChild(el("p", {}, T.ended)); }
        try { localStorage.removeItem(store); } catch (x) {}
      }, problem);
    };
    if (cfg.sse && window.EventSource) listen(); else poll();
  }
  function load() {
    var lang = document.documentElement.lang || navigator.language || "";
    return call("config?lang=" + encodeURIComponent(lang)).then(function (c) {
      cfg = c; loaded = Date.now();
      for (var k in c.texts || {}) T[k] = c.texts[k];
      launcher.textContent = T.launcher; panel.setAttribute("aria-label", T.dialog);
      return c;
    });
  }
  var first = load().catch(function () { cfg = null; });
  launcher.onclick = function () {
    panel.hidden = !panel.hidden;
    launcher.setAttribute("aria-expanded", String(!panel.hidden));
    if (panel.hidden || (panel.firstChild && cfg)) return;
    /* The config read on load, or again when it is old (whether agents are online moves). */
    (cfg && Date.now() - loaded < 60000 ? first : load()).then(function () {
      if (!cfg) throw {};
      if (!token) return prechat();
      call("conversation").then(function (s) { if (s.ended) prechat(); else chat(); }, prechat);
    }).catch(function (j) { cfg = null; panel.appendChild(err); problem(j); });
  };
  (document.body || document.documentElement).appendChild(root);
})();
