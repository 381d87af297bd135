// The agent's chat console: one poll of the console's events endpoint (or its SSE stream when
// the server offers one) follows everything the console shows: the open chat in full (messages,
// the visitor's typing, what the visitor has seen: c=<id>:<cursor>:<stamp>), every other chat
// of the list by its stamp (l=<id>:<stamp>: a "new message" marker, the end) and the newest chat
// id the list knows (n=<id>: a newer chat re-renders the list). Nothing changed is an empty 204.
// Sends, types, ends. Texts come translated from the page (data-t-*).
(function () {
  "use strict";
  var console_ = document.querySelector(".chat-console");
  if (!console_) return;
  var t = console_.dataset;
  var pane = document.getElementById("chat");
  var d = pane ? pane.dataset : {}, cursor = 0, stamp = "", lastOwn = 0, ended = !!d.ended;
  var typingSent = 0, timer = null, stream = null, reloading = false;
  var list = document.getElementById("chat-messages");
  var input = document.getElementById("chat-input");
  var current = pane ? d.chat : "";

  function post(url, data) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": t.csrf},
      body: JSON.stringify(data || {})
    });
  }
  function rows() { return document.querySelectorAll("#chat-list li[data-chat]"); }
  function row(id) { return document.querySelector('#chat-list li[data-chat="' + id + '"]'); }
  function watch() {
    var l = [], newest = 0;
    rows().forEach(function (li) {
      var id = +li.dataset.chat;
      newest = Math.max(newest, id);
      if (String(id) !== current) l.push(id + ":" + li.dataset.stamp);
    });
    var c = current ? current + ":" + cursor + ":" + stamp : "";
    // ids, cursors and stamps are digits, ":", "." and ",": nothing to escape (a shorter URL:
    // 100 listed chats are ~1.6 KB; gunicorn's default request line is 4 KB)
    return "c=" + c + "&l=" + l.join(",") + "&n=" + newest;
  }
  function reloadList() {
    if (reloading) return;
    reloading = true;
    var old = document.getElementById("chat-list");
    fetch(old.dataset.list, {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var box = document.createElement("div");
        box.innerHTML = html.trim();
        var fresh = box.querySelector("#chat-list");
        if (fresh) document.getElementById("chat-list").replaceWith(fresh);
      })
      .catch(function () {})
      .then(function () { reloading = false; });
  }
  function applyList(summaries) {
    var stale = false;
    Object.keys(summaries || {}).forEach(function (id) {
      var s = summaries[id], li = row(id);
      if (!li) { stale = true; return; }  // a chat the list does not show yet
      li.dataset.stamp = s.stamp;
      if (s.ended && !li.dataset.ended) stale = true;
      var mark = li.querySelector(".chat-unread");
      if (mark) mark.hidden = !s.unread;
    });
    if (stale) reloadList();
  }
  function applyAll(body) {
    if (!body) return;
    var ev = body.chats && body.chats[current];
    if (ev) apply(ev);
    applyList(body.list);
  }
  function show(m) {
    if (document.getElementById("m" + m.id)) return;
    var li = document.createElement("li"), who = document.createElement("span");
    li.id = "m" + m.id; li.className = m.author;
    who.className = "who";
    who.textContent = m.author === "customer" ? d.visitor : (m.name || (m.author === "system" ? "flowdesk" : t.tAgent));
    li.appendChild(who); li.appendChild(document.createTextNode(m.body));
    list.appendChild(li);
    if (m.author !== "customer") lastOwn = m.id;
  }
  function apply(ev) {
    var fresh = false;
    stamp = ev.stamp || "";
    ev.messages.forEach(function (m) { show(m); if (m.author === "customer") fresh = true; });
    if (ev.messages.length) list.scrollTop = list.scrollHeight;
    cursor = Math.max(cursor, ev.cursor);
    document.getElementById("chat-typing").textContent = ev.typing ? d.tTyping : "";
    document.getElementById("chat-seen").textContent = lastOwn && ev.seen >= lastOwn ? t.tSeen : "";
    if (fresh && document.visibilityState === "visible") post(d.seen, {message_id: cursor});
    if (ev.ended && !ended) { ended = true; document.getElementById("chat-ended").hidden = false; }
  }
  function poll() {
    fetch(t.events + "?" + watch(), {credentials: "same-origin"})
      .then(function (r) { return r.status === 200 ? r.json() : null; })
      .then(applyAll)
      .catch(function () {})
      .then(function () { timer = setTimeout(poll, 1500); });
  }
  function listen() {
    stream = new EventSource(t.stream + "?" + watch());
    stream.onmessage = function (e) { applyAll(JSON.parse(e.data)); };
    stream.onerror = function () { if (stream.readyState === 2) { stream = null; poll(); } };
  }
  if (pane) {
    document.getElementById("chat-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var body = input.value.trim();
      if (!body || ended) return;
      input.value = "";
      post(d.send, {body: body}).then(function () { if (!stream) { clearTimeout(timer); poll(); } });
    });
    input.addEventListener("input", function () {
      var now = Date.now();
      if (now - typingSent > 2000) { typingSent = now; post(d.typing, {typing: true}); }
    });
    document.getElementById("chat-end").addEventListener("click", function () {
      post(d.end).then(function () { ended = true; document.getElementById("chat-ended").hidden = false; });
    });
  }
  if (t.stream && window.EventSource) listen(); else poll();
})();
