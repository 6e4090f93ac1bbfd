// The demo host page's own script: its "?" links and buttons call the widget's JavaScript API.
// Without the widget, the links still lead to the help-center pages.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var trigger = event.target.closest("[data-help]");
    var help = window.ProRedLineHelp;
    if (!trigger || !help) { return; }
    event.preventDefault();
    var data = trigger.dataset;
    if (data.help === "ask") { help.ask(data.question); }
    else if (data.help === "search") { help.search(data.query); }
    else if (data.help === "article") { help.openArticle(data.slug, data.anchor); }
    else { help.open(); }
  });
})();
