// Starts Swagger UI on /docs. A file of our own because the page's Content-Security-Policy
// allows no inline script. The document is found relative to this script
// (<root>/docs/static/init.js → <root>/openapi.json), so a proxy's path prefix still works.
"use strict";
const spec = new URL("../../openapi.json", document.currentScript.src).href;
window.ui = SwaggerUIBundle({
  url: spec,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null, // the default sends the document's URL to validator.swagger.io
  queryConfigEnabled: false, // never load another document named in the page's URL
});
