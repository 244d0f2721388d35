// Keyboard shortcuts of the review page: g / d / u decide, s skips, z undoes. Each key clicks the button that
// carries it in data-key, so a shortcut does exactly what the button does (htmx or a plain form post).
document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  var target = event.target;
  if (target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.isContentEditable)) return;
  if (event.key.length !== 1) return;
  var button = document.querySelector('button[data-key="' + CSS.escape(event.key.toLowerCase()) + '"]');
  if (button && !button.disabled) {
    event.preventDefault();
    button.click();
  }
});
// While a decision is on its way, the buttons are disabled so a double key press cannot decide twice.
document.addEventListener("htmx:beforeRequest", function () {
  document.querySelectorAll("button[data-key]").forEach(function (b) { b.disabled = true; });
});
document.addEventListener("htmx:afterRequest", function () {
  document.querySelectorAll("button[data-key]").forEach(function (b) { b.disabled = false; });
});
