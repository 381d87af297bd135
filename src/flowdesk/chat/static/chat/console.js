// The agent's chat console: polls the console's one events endpoint for the chats it follows
// (or listens to its SSE stream when the server offers one), shows messages, the visitor's
// typing and what the visitor has seen; sends, types, ends. A poll names each chat with the
// cursor and stamp it has shown (c=<id>:<cursor>:<stamp>); nothing changed is an empty 204.
(function () {
  "use strict";
  var pane = document.getElementById("chat");
  if (!pane) return;
  var d = pane.dataset, cursor = 0, stamp = "", lastOwn = 0, ended = !!d.ended, typingSent = 0, timer = null;
  var list = document.getElementById("chat-messages");
  var input = document.getElementById("chat-input");

  function post(url, data) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": d.csrf},
      body: JSON.stringify(data || {})
    });
  }
  function show(m) {
    if (document.getElementById("m" + m.id)) return;
    var li = document.createElement("li"), who = document.createElement("span");
    li.id = "m" + m.id; li.className = m.author;
    who.className = "who";
    who.textContent = m.author === "customer" ? d.visitor : (m.name || (m.author === "system" ? "flowdesk" : "Agent"));
    li.appendChild(who); li.appendChild(document.createTextNode(m.body));
    list.appendChild(li);
    if (m.author !== "customer") lastOwn = m.id;
  }
  function watch() { return "c=" + d.chat + ":" + cursor + ":" + encodeURIComponent(stamp); }
  function applyAll(body) {
    var ev = body && body.chats && body.chats[d.chat];
    if (ev) apply(ev);
  }
  function apply(ev) {
    var fresh = false;
    stamp = ev.stamp || "";
    ev.messages.forEach(function (m) { show(m); if (m.author === "customer") fresh = true; });
    if (ev.messages.length) list.scrollTop = list.scrollHeight;
    cursor = Math.max(cursor, ev.cursor);
    document.getElementById("chat-typing").textContent = ev.typing ? d.visitor + " is typing…" : "";
    document.getElementById("chat-seen").textContent = lastOwn && ev.seen >= lastOwn ? "Seen" : "";
    if (fresh && document.visibilityState === "visible") post(d.seen, {message_id: cursor});
    if (ev.ended) { ended = true; document.getElementById("chat-ended").hidden = false; }
  }
  function poll() {
    fetch(d.events + "?" + watch(), {credentials: "same-origin"})
      .then(function (r) { return r.status === 200 ? r.json() : null; })
      .then(applyAll)
      .catch(function () {})
      .then(function () { if (!ended) timer = setTimeout(poll, 1500); });
  }
  function listen() {
    var es = new EventSource(d.stream + "?" + watch());
    es.onmessage = function (e) { applyAll(JSON.parse(e.data)); if (ended) es.close(); };
    es.onerror = function () { if (ended) es.close(); else if (es.readyState === 2) poll(); };
  }
  document.getElementById("chat-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var body = input.value.trim();
    if (!body || ended) return;
    input.value = "";
    post(d.send, {body: body}).then(function () { if (!d.stream) { clearTimeout(timer); poll(); } });
  });
  input.addEventListener("input", function () {
    var now = Date.now();
    if (now - typingSent > 2000) { typingSent = now; post(d.typing, {typing: true}); }
  });
  document.getElementById("chat-end").addEventListener("click", function () {
    post(d.end).then(function () { ended = true; document.getElementById("chat-ended").hidden = false; });
  });
  if (d.stream && window.EventSource) listen(); else poll();
})();
