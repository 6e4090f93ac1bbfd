/* ProRedLine help widget: the loader a host page embeds with one script tag.
 *
 *   <script src="https://HELP-HOST/widget.js" async data-position="bottom-left"
 *           data-accent="#0b5394" data-greeting="Hello!" data-lang="de" data-tabs="ask,search"></script>
 *
 * It adds one iframe (the panel, served by the help host, which calls the help API on its
 * own origin) and one global, window.ProRedLineHelp. The iframe's geometry is set with
 * !important inline styles, so host style sheets cannot move or resize it; everything else
 * lives inside the frame, out of reach of the host's CSS and scripts. Messages name their
 * target origin, and only messages from the frame's window and origin are read.
 */
(function () {
  "use strict";
  var NAME = "ProRedLineHelp";
  var NS = "prl-help";
  var LANGS = /^(en|de|fr)$/;
  var TABS = { ask: 1, search: 1 };
  var stub = window[NAME];
  if (stub && stub.loaded) { return; }

  var script = document.currentScript;
  if (!script) {
    // Loaded async or injected: find our tag by its file name.
    var tags = document.getElementsByTagName("script");
    for (var t = tags.length - 1; t >= 0 && !script; t--) {
      if (/\/widget\.js(\?|#|$)/.test(tags[t].src)) { script = tags[t]; }
    }
  }
  if (!script || !window.postMessage) { return; }

  var scriptUrl = new URL(script.src, location.href);
  var appOrigin = scriptUrl.origin;
  var data = script.dataset;
  var left = data.position === "bottom-left";
  var accent = /^#([0-9a-f]{3}){1,2}$/i.test(data.accent || "") ? data.accent : "";
  var lang = (data.lang || document.documentElement.lang || "en").slice(0, 2).toLowerCase();
  var tabs = [], names = (data.tabs || "ask,search").split(/[\s,]+/);
  for (var n = 0; n < names.length; n++) {
    if (TABS[names[n]] && tabs.indexOf(names[n]) < 0) { tabs.push(names[n]); }
  }

  var src = new URL("widget/", scriptUrl);
  src.search = new URLSearchParams({
    origin: location.origin,
    lang: LANGS.test(lang) ? lang : "en",
    position: left ? "bottom-left" : "bottom-right",
    accent: accent,
    tabs: (tabs.length ? tabs : ["ask", "search"]).join(","),
    greeting: (data.greeting || "").slice(0, 300)
  }).toString();

  var frame = document.createElement("iframe");
  var ready = false, isOpen = false, full = false, returnFocus = null;
  var queue = [], handlers = {};
  var narrow = window.matchMedia("(max-width: 480px), (max-height: 520px)");

  function place() {
    full = isOpen && narrow.matches;
    var size = !isOpen ? ["88px", "88px"] : full ? ["100%", "100%"] : ["min(432px, 100vw)", "min(720px, 100vh)"];
    var css = {
      position: "fixed", display: "block", top: full ? "0" : "auto", bottom: "0",
      left: left || full ? "0" : "auto", right: left && !full ? "auto" : "0",
      width: size[0], height: size[1], "max-width": "100vw", "max-height": "100vh", "min-width": "0", "min-height": "0",
      margin: "0", padding: "0", border: "0", "border-radius": "0", background: "transparent", "box-shadow": "none",
      opacity: "1", visibility: "visible", transform: "none", filter: "none", "clip-path": "none",
      "color-scheme": "light", "z-index": "2147483000"
    };
    for (var key in css) { frame.style.setProperty(key, css[key], "important"); }
  }

  function post(message) {
    message.ns = NS;
    frame.contentWindow.postMessage(message, appOrigin);
  }

  function send(message) {
    if (ready) { post(message); } else { queue.push(message); }
  }

  function emit(name, detail) {
    var list = handlers[name] || [];
    for (var i = 0; i < list.length; i++) {
      try { list[i](detail); } catch (error) { setTimeout(function () { throw error; }); }
    }
  }

  function text(value, max) {
    return typeof value === "string" ? value.trim().slice(0, max) : "";
  }

  // Opened from the host page (a "?" link): keyboard focus follows into the panel, and
  // returns to where it was when the panel closes.
  function openFromHost(message) {
    var active = document.activeElement;
    returnFocus = active && active !== frame && active !== document.body ? active : null;
    message.focus = true;
    send(message);
    frame.focus();
  }

  window.addEventListener("message", function (event) {
    var message = event.data;
    if (event.source !== frame.contentWindow || event.origin !== appOrigin) { return; }
    if (!message || message.ns !== NS) { return; }
    if (message.type === "ready") {
      ready = true;
      frame.title = text(message.title, 100) || frame.title;
      var waiting = queue;
      queue = [];
      for (var i = 0; i < waiting.length; i++) { post(waiting[i]); }
      emit("ready", {});
    } else if (message.type === "open") {
      isOpen = true;
      place();
      post({ type: "layout", open: true, full: full });
      emit("open", {});
    } else if (message.type === "close") {
      isOpen = false;
      place();
      if (message.hostFocus !== false && returnFocus && document.contains(returnFocus)) { returnFocus.focus(); }
      returnFocus = null;
      emit("close", {});
    } else if (message.type === "answer") {
      emit("answer", { intent: text(message.intent, 100), fallback: message.fallback === true });
    }
  });

  narrow.addEventListener("change", function () {
    if (!isOpen) { return; }
    place();
    post({ type: "layout", open: true, full: full });
  });

  var api = {
    loaded: true,
    /** Open the panel. */
    open: function () { openFromHost({ type: "open" }); },
    /** Close the panel. */
    close: function () { send({ type: "close" }); },
    /** Open the Ask tab and send a question. */
    ask: function (question) {
      question = text(question, 2000);
      if (question) { openFromHost({ type: "ask", question: question }); }
    },
    /** Open the Search tab and search. */
    search: function (query) {
      openFromHost({ type: "search", query: text(query, 500) });
    },
    /** Open an article (and a section of it) inside the panel. */
    openArticle: function (slug, anchor) {
      slug = text(slug, 100);
      if (slug) { openFromHost({ type: "article", slug: slug, anchor: text(anchor, 100) }); }
    },
    /** Call fn(detail) on "ready", "open", "close" or "answer" ({intent, fallback}). */
    on: function (name, fn) {
      if (typeof fn === "function") { (handlers[name] = handlers[name] || []).push(fn); }
    }
  };
  window[NAME] = api;

  frame.title = "Help";
  frame.src = src.toString();
  frame.setAttribute("allow", "clipboard-write");
  place();

  function mount() {
    (document.body || document.documentElement).appendChild(frame);
    // Calls made through the optional stub before this script loaded, in order.
    var early = stub && stub.q && stub.q.length ? stub.q : [];
    for (var i = 0; i < early.length; i++) {
      var call = Array.prototype.slice.call(early[i]);
      if (typeof api[call[0]] === "function") { api[call[0]].apply(api, call.slice(1)); }
    }
  }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
})();
