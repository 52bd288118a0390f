// Starts Swagger UI. Kept in its own file so the docs page runs under a CSP without
// 'unsafe-inline'; the page tells it where the OpenAPI document lives.
(function () {
  "use strict";
  var element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: element.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    deepLinking: true,
    filter: true,
    displayRequestDuration: true,
    // No calls to the public validator service, and no tokens left in localStorage.
    validatorUrl: null,
    persistAuthorization: false,
    withCredentials: false
  });
})();
