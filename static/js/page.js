/* Small behaviours of server-rendered pages, declared with data attributes instead of inline
 * handlers (the Content-Security-Policy allows no inline script, apps/core/headers.py):
 *   <form data-confirm="Really?">            asks before submitting
 *   <select data-autosubmit>                  submits its form when changed
 *   <input data-select-on-focus>              selects its text when focused
 *   <button data-open-dialog="id">            opens <dialog id="id"> as a modal
 *   <button data-close-dialog>                closes the dialog it is in
 * Loaded by the console and the WebApps; no dependencies. */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches && form.matches("form[data-confirm]") && !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-autosubmit]") && field.form) field.form.submit();
  });

  document.addEventListener("focusin", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-select-on-focus]")) field.select();
  });

  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (dialog && dialog.showModal) dialog.showModal();
      return;
    }
    var closer = event.target.closest && event.target.closest("[data-close-dialog]");
    if (closer && closer.closest("dialog")) closer.closest("dialog").close();
  });
})();
