// The operator's intake form: Ctrl+Enter (or Cmd+Enter) files the call from any field; Enter in
// the category search looks categories up instead of filing the call.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("intake-form");
  if (!form) return;
  form.addEventListener("keydown", function (e) {
    if (e.key !== "Enter") return;
    if (e.ctrlKey || e.metaKey) {
      e.preventDefault();
      form.requestSubmit(document.getElementById("file-call"));
    } else if (e.target && e.target.id === "category-q") {
      e.preventDefault();
    }
  });
});
