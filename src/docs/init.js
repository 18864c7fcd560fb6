// Starts the API reference (the Scalar bundle loaded before this script), from the Worker's own
// origin: a separate file rather than an inline script, so the page's CSP allows only 'self'.
Scalar.createApiReference('#app', { url: '/v1/openapi.json', withDefaultFonts: false, hideClientButton: true });
