// Progressive enhancement for the help-center pages: the pages work without it.
// Section links copy their absolute URL to the clipboard when clicked; "Ask the assistant"
// links open the assistant's panel (the widget) on the page instead of its own page.
(function () {
  "use strict";
  var status = document.querySelector(".copy-status");

  function announce(text) {
    if (status) { status.textContent = text; }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a.permalink") : null;
    if (!link || !navigator.clipboard) { return; }
    var url = new URL(link.getAttribute("href"), window.location.href).href;
    navigator.clipboard.writeText(url).then(function () {
      link.classList.add("copied");
      announce("Link copied to the clipboard.");
      window.setTimeout(function () { link.classList.remove("copied"); }, 2000);
    }, function () {
      announce("Could not copy; the link is in the address bar.");
    });
  });

  // data-help="open" opens the panel; data-help="ask" with data-question also asks it. A modified
  // click (new tab) or a page without the widget follows the link to the assistant's own page.
  document.addEventListener("click", function (event) {
    var trigger = event.target.closest ? event.target.closest("[data-help]") : null;
    var help = window.ProRedLineHelp;
    if (!trigger || !help || typeof help.open !== "function" || document.body.classList.contains("own-help")) { return; }
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) { return; }
    event.preventDefault();
    var question = trigger.getAttribute("data-question");
    if (trigger.getAttribute("data-help") === "ask" && question) { help.ask(question); } else { help.open(); }
  });
})();
