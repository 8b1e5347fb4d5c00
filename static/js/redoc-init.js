// Starts Redoc on /v1/docs/redoc from a file, not an inline script, so the page's
// Content-Security-Policy can allow scripts from this server only (apps/core/openapi.py).
(function () {
  var container = document.getElementById("redoc-container");
  Redoc.init(container.dataset.specUrl, JSON.parse(container.dataset.settings || "{}"), container);
})();
