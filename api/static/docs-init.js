// Starts Swagger UI without inline script (the CSP forbids it) and without the
// online validator badge, so the docs page works with no network.
window.addEventListener("load", function () {
  var container = document.getElementById("swagger-ui-container");
  window.ui = SwaggerUIBundle({
    url: container.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui-container",
    validatorUrl: null,
    deepLinking: true,
    persistAuthorization: true,
  });
});
