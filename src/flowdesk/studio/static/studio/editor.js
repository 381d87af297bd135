// Progressive enhancement of the rule editor: line numbers beside the textarea (problem lines
// marked), and a click on "line N" puts the cursor on that line. Without JS the textarea
// works as it is and the numbered listing below it shows each problem next to its line.
(function () {
  "use strict";
  var area = document.querySelector(".code-editor textarea");
  if (!area) { return; }
  var bad = {};
  document.querySelectorAll("[data-line]").forEach(function (a) { bad[a.dataset.line] = true; });
  var gutter = document.createElement("pre");
  gutter.className = "gutter";
  gutter.setAttribute("aria-hidden", "true");
  area.parentNode.insertBefore(gutter, area);
  function number() {
    var n = area.value.split("\n").length, out = [];
    for (var i = 1; i <= n; i++) {
      out.push(bad[i] ? '<span class="bad">' + i + "</span>" : String(i));
    }
    gutter.innerHTML = out.join("\n");
    gutter.scrollTop = area.scrollTop;
  }
  area.addEventListener("input", number);
  area.addEventListener("scroll", function () { gutter.scrollTop = area.scrollTop; });
  number();
  function goTo(line) {
    var lines = area.value.split("\n"), at = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) { at += lines[i].length + 1; }
    area.focus();
    area.setSelectionRange(at, at + (lines[line - 1] || "").length);
    var height = parseFloat(getComputedStyle(area).lineHeight) || 20;
    area.scrollTop = Math.max(0, (line - 4) * height);
  }
  document.querySelectorAll("[data-line]").forEach(function (a) {
    a.addEventListener("click", function (e) { e.preventDefault(); goTo(parseInt(a.dataset.line, 10)); });
  });
})();
