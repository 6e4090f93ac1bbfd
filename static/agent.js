// Agent console: the copy buttons. The page works without this file (the reply is in
// text boxes to select by hand); with it, one click puts a format on the clipboard.
(function () {
  "use strict";
  var status = document.querySelector(".copy-status");

  function announce(text) {
    if (status) { status.textContent = text; }
  }

  // Without the Clipboard API (an insecure page, an old browser, a refused permission),
  // select the text so that the agent's own Ctrl+C copies it.
  function selectForCopy(box, name) {
    var details = box.closest("details");
    if (details) { details.open = true; }
    box.focus();
    box.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
    announce(copied ? name + " copied." : name + " is selected: press Ctrl+C (⌘C on a Mac) to copy it.");
  }

  function write(box, asHtml) {
    var text = box.value;
    if (asHtml && window.ClipboardItem && navigator.clipboard.write) {
      // Rich editors paste the formatted reply; plain fields get the HTML source.
      return navigator.clipboard.write([new window.ClipboardItem({
        "text/html": new Blob([text], { type: "text/html" }),
        "text/plain": new Blob([text], { type: "text/plain" })
      })]);
    }
    return navigator.clipboard.writeText(text);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (!button) { return; }
    var box = document.getElementById(button.getAttribute("data-copy"));
    if (!box) { return; }
    var name = button.textContent.replace(/^Copy as /, "").replace(/^\w/, function (c) { return c.toUpperCase(); });
    if (!navigator.clipboard || !window.isSecureContext) {
      selectForCopy(box, name);
      return;
    }
    write(box, button.hasAttribute("data-copy-html")).then(function () {
      announce(name + " copied to the clipboard.");
    }, function () {
      selectForCopy(box, name);
    });
  });
})();
