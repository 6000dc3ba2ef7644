// Mermaid from this site, and only on pages that draw a diagram.
//
// Material renders `pre.mermaid` blocks with whatever `window.mermaid` is; when there is
// none it loads Mermaid from a CDN, which an offline reader cannot reach (and a failed load
// stops the theme's scripts, search included). The vendored build (vendor/mermaid.min.js,
// see scripts/vendor-mermaid) is 3.5 MB and takes most of a second to start, so rather than
// load it on every page we stand in for it: Material finds `window.mermaid` defined, and the
// first diagram it renders loads the real one. Material calls only initialize() and render().
(function () {
  "use strict";

  var src = document.currentScript.src.replace(/[^/]*$/, "vendor/mermaid.min.js");
  var config = {};
  var loading = null;

  function load() {
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = src;
        // the real Mermaid replaces window.mermaid as it loads; give it Material's settings
        script.onload = function () {
          window.mermaid.initialize(config);
          resolve(window.mermaid);
        };
        script.onerror = function () { reject(new Error("cannot load " + src)); };
        document.head.appendChild(script);
      });
    }
    return loading;
  }

  window.mermaid = {
    initialize: function (options) { config = options; },
    render: function (id, text) {
      return load().then(function (mermaid) { return mermaid.render(id, text); });
    },
  };
})();
