// The gjobs dashboard's only script: it refreshes the page's content in place, and asks before
// the buttons that act on every job. Served from the package (no CDN); the Content-Security-Policy
// allows no other script.
(function () {
  "use strict";

  function busy(main) {
    // Never swap the content under someone choosing jobs or typing.
    if (main.querySelector("input[type=checkbox]:checked")) return true;
    var active = document.activeElement;
    return active && main.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName);
  }

  function refresh(main) {
    if (document.hidden || busy(main)) return Promise.resolve();
    return fetch(window.location.href, {credentials: "same-origin", headers: {"X-Requested-With": "gjobs"}})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null || busy(main)) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("content");
        if (!fresh) return;
        main.replaceChildren.apply(main, Array.prototype.map.call(fresh.childNodes, function (node) {
          return document.importNode(node, true);
        }));
        document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
      })
      .catch(function () { /* Redis or the server away for a moment: the next round tries again */ });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () {
    var main = document.getElementById("content");
    var seconds = main ? Number(main.dataset.refresh) : 0;
    if (!(seconds > 0)) return;
    var loop = function () { refresh(main).then(function () { window.setTimeout(loop, seconds * 1000); }); };
    window.setTimeout(loop, seconds * 1000);
  });
})();
