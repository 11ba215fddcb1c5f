// Keyboard shortcuts for the review queue: c confirm, r reject, s skip (next pair).
// Progressive enhancement only: every action is a plain form button without this script.
(function () {
  "use strict";
  function pairs() { return Array.prototype.slice.call(document.querySelectorAll("section.pair")); }
  var index = 0;
  function mark() {
    pairs().forEach(function (p, i) { p.classList.toggle("current", i === index); });
  }
  document.addEventListener("DOMContentLoaded", mark);
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) { return; }
    var list = pairs();
    if (!list.length) { return; }
    var pair = list[Math.min(index, list.length - 1)];
    var key = event.key.toLowerCase();
    if (key === "s") {
      index = Math.min(index + 1, list.length - 1);
      mark();
      list[index].scrollIntoView({block: "start"});
      event.preventDefault();
      return;
    }
    var button = pair.querySelector('button[data-key="' + key + '"]');
    if (button) { event.preventDefault(); button.click(); }
  });
}());
