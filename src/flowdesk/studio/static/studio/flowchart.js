// Draws the text definition with the vendored mermaid: strict security level (labels are
// text, never HTML; no click handlers), nothing loaded from elsewhere. Without JS, or if
// drawing fails, the text definition stays on the page.
(function () {
  "use strict";
  var box = document.getElementById("chart");
  if (!box || !window.mermaid) { return; }
  var source = document.getElementById(box.dataset.source);
  window.mermaid.initialize({
    startOnLoad: false,
    securityLevel: "strict",
    htmlLabels: false,
    flowchart: { htmlLabels: false, useMaxWidth: true },
    theme: "neutral"
  });
  window.mermaid.render("chart-svg", source.textContent).then(function (out) {
    box.innerHTML = out.svg;
    var details = source.closest("details");
    if (details) { details.open = false; }
  }).catch(function (err) {
    box.textContent = (box.dataset.error || "The chart could not be drawn:") + " " + err;
  });
})();
