// Progressive enhancement for the help-center pages: the pages work without it.
// Section links copy their absolute URL to the clipboard when clicked.
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
})();
