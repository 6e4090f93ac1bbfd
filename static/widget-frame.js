/* ProRedLine help widget: the panel inside the iframe that widget.js creates.
 *
 * It runs on the help host's origin, so it calls the JSON API without CORS. The host page
 * is another origin: messages to it name its origin (given by widget.js and checked on
 * every message received, with the sender's window), and no data but small events leaves.
 * A user's text is only ever set with textContent; HTML from the server goes through
 * clean(), an allow-list that builds fresh elements from an inert parsed copy.
 */
(function () {
  "use strict";
  var LABELS = {
    en: {
      title: "{provider} Help", open: "Open help", close: "Close help", sections: "Help sections",
      ask: "Ask", search: "Search", question: "Your question", questionHint: "Ask a question…", send: "Send",
      searchLabel: "Search the help center", searchHint: "Search articles…", searching: "Searching…",
      greeting: "Hi! Ask me about setting up your email, or search the help articles.",
      thinking: "Looking for an answer…", failed: "Sorry, the help service did not answer.", retry: "Try again",
      cut: "Your message was long: only its first 2,000 characters were sent.",
      helpful: "Was this helpful?", yes: "Yes", no: "No", thanks: "Thanks for your feedback!",
      readMore: "Read more", from: "From", updated: "updated", suggestions: "Suggested questions",
      incoming: "Incoming mail", outgoing: "Outgoing mail", server: "Server", port: "Port", security: "Security",
      alternative: "Alternative", altValue: "port {port} with {security}", username: "Username",
      authentication: "Authentication", copy: "Copy", copied: "Copied", contact: "Contact support",
      one: "1 result", many: "{n} results", inOne: " in 1 article", inMany: " in {n} articles",
      none: "No articles match “{q}”.", english: "",
      didYouMean: "Did you mean:", askInstead: "Ask the assistant instead", back: "Back", newTab: "Open in new tab",
      loading: "Loading…", answer: "New answer", you: "You said", bot: "Assistant said"
    },
    de: {
      title: "{provider} Hilfe", open: "Hilfe öffnen", close: "Hilfe schließen", sections: "Hilfebereiche",
      ask: "Fragen", search: "Suchen", question: "Ihre Frage", questionHint: "Stellen Sie eine Frage…", send: "Senden",
      searchLabel: "Hilfe-Center durchsuchen", searchHint: "Artikel suchen…", searching: "Suche läuft…",
      greeting: "Hallo! Fragen Sie mich zur Einrichtung Ihrer E-Mail oder durchsuchen Sie die Hilfeartikel.",
      thinking: "Antwort wird gesucht…", failed: "Der Hilfedienst hat leider nicht geantwortet.", retry: "Erneut versuchen",
      cut: "Ihre Nachricht war lang: nur die ersten 2.000 Zeichen wurden gesendet.",
      helpful: "War das hilfreich?", yes: "Ja", no: "Nein", thanks: "Danke für Ihr Feedback!",
      readMore: "Mehr dazu", from: "Aus", updated: "aktualisiert", suggestions: "Vorgeschlagene Fragen",
      incoming: "Posteingang", outgoing: "Postausgang", server: "Server", port: "Port", security: "Sicherheit",
      alternative: "Alternative", altValue: "Port {port} mit {security}", username: "Benutzername",
      authentication: "Anmeldung", copy: "Kopieren", copied: "Kopiert", contact: "Support kontaktieren",
      one: "1 Treffer", many: "{n} Treffer", inOne: " in 1 Artikel", inMany: " in {n} Artikeln",
      none: "Keine Artikel zu „{q}“.", english: "Die Antworten und Artikel sind auf Englisch.",
      didYouMean: "Meinten Sie:", askInstead: "Stattdessen den Assistenten fragen", back: "Zurück",
      newTab: "In neuem Tab öffnen", loading: "Wird geladen…", answer: "Neue Antwort", you: "Sie", bot: "Assistent"
    },
    fr: {
      title: "Aide {provider}", open: "Ouvrir l’aide", close: "Fermer l’aide", sections: "Rubriques d’aide",
      ask: "Question", search: "Recherche", question: "Votre question", questionHint: "Posez une question…",
      send: "Envoyer", searchLabel: "Rechercher dans le centre d’aide", searchHint: "Rechercher des articles…",
      searching: "Recherche…",
      greeting: "Bonjour ! Posez-moi une question sur la configuration de votre messagerie, ou cherchez un article.",
      thinking: "Recherche d’une réponse…", failed: "Désolé, le service d’aide n’a pas répondu.", retry: "Réessayer",
      cut: "Votre message était long : seuls ses 2 000 premiers caractères ont été envoyés.",
      helpful: "Cette réponse vous a-t-elle aidé ?", yes: "Oui", no: "Non", thanks: "Merci de votre avis !",
      readMore: "En savoir plus", from: "Source", updated: "mis à jour", suggestions: "Questions suggérées",
      incoming: "Courrier entrant", outgoing: "Courrier sortant", server: "Serveur", port: "Port", security: "Sécurité",
      alternative: "Autre option", altValue: "port {port} avec {security}", username: "Identifiant",
      authentication: "Authentification", copy: "Copier", copied: "Copié", contact: "Contacter le support",
      one: "1 résultat", many: "{n} résultats", inOne: " dans 1 article", inMany: " dans {n} articles",
      none: "Aucun article pour « {q} ».", english: "Les réponses et les articles sont en anglais.",
      didYouMean: "Vouliez-vous dire :", askInstead: "Demander plutôt à l’assistant", back: "Retour",
      newTab: "Ouvrir dans un nouvel onglet", loading: "Chargement…", answer: "Nouvelle réponse", you: "Vous",
      bot: "Assistant"
    }
  };
  var NS = "prl-help";
  var KEY = "prl-help";
  var KEEP = 40;
  var SLUG = /^[a-z0-9][a-z0-9-]{0,99}$/;
  var ANCHOR = /^[A-Za-z0-9_-]{1,100}$/;
  var HEX = /^#([0-9a-f]{3}){1,2}$/i;
  // What survives clean(): tag -> the tag to build (headings move down under the panel's h1).
  var ANSWER = { p: "p", ul: "ul", ol: "ol", li: "li", strong: "strong", em: "em", code: "code", a: "a", br: "br" };
  var SNIPPET = { mark: "mark" };
  var ARTICLE = Object.assign({
    h1: "h3", h2: "h3", h3: "h4", h4: "h5", h5: "h6", h6: "h6", pre: "pre", blockquote: "blockquote",
    table: "table", thead: "thead", tbody: "tbody", tr: "tr", th: "th", td: "td"
  }, ANSWER);
  // Dropped with everything inside; any other unknown element is replaced by its content.
  var DROP = /^(script|style|template|iframe|frame|object|embed|noscript|svg|math|textarea|select|option|button|form|input|title|head|link|meta|img|video|audio|canvas)$/;

  var body = document.body;
  var cfg = body.dataset;
  var params = new URLSearchParams(location.search);
  var lang = LABELS[params.get("lang")] ? params.get("lang") : "en";
  var L = Object.assign({}, LABELS.en, LABELS[lang]);
  var framed = window.parent !== window;
  var parentOrigin = originOf(params.get("origin"));
  var tabs = (params.get("tabs") || "ask,search").split(",").filter(function (t) { return t === "ask" || t === "search"; });
  if (!tabs.length) { tabs = ["ask", "search"]; }
  var timeout = Number(cfg.timeout) || 15000;
  var MAX_QUESTION = 2000;

  function $(id) { return document.getElementById(id); }
  var panel = $("panel"), launcher = $("launcher"), log = $("log"), live = $("live");
  var question = $("question"), query = $("query"), results = $("results"), searchStatus = $("search-status");
  var article = $("article"), newtab = $("newtab");
  var state = load();
  var opened = false, wantFocus = false, pendingAsk = null;
  var searchTimer = 0, searchCall = null, articleCall = null, articleOpener = null;

  // --- helpers --------------------------------------------------------------------

  function originOf(value) {
    try {
      var url = new URL(value);
      return /^https?:$/.test(url.protocol) && url.origin === value ? value : "";
    } catch (error) {
      return "";
    }
  }

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, name) { return name in values ? values[name] : all; });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function button(className, text, onClick) {
    var node = el("button", className, text);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  function list(value) { return Array.isArray(value) ? value : []; }

  // Text from the help center is English: say so to screen readers on a German or French panel.
  function english(node) {
    if (lang !== "en") { node.lang = "en"; }
    return node;
  }

  function str(value) { return typeof value === "string" ? value : ""; }

  function announce(text) {
    live.textContent = "";
    setTimeout(function () { live.textContent = text; }, 60);
  }

  function newId() {
    return window.crypto && crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function load() {
    try {
      var saved = JSON.parse(sessionStorage.getItem(KEY));
      if (saved && Array.isArray(saved.messages) && typeof saved.session === "string") { return saved; }
    } catch (error) { /* storage blocked or corrupt: start afresh */ }
    return { session: newId(), messages: [], tab: "", query: "" };
  }

  function save() {
    state.messages = state.messages.slice(-KEEP);
    try { sessionStorage.setItem(KEY, JSON.stringify(state)); } catch (error) { /* storage blocked: keep it in memory */ }
  }

  // Scroll inside the panel only; scrollIntoView could scroll the host page too.
  function scrollTo(box, node) {
    box.scrollTop = node.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop - 8;
  }

  // fetch with a deadline; call.abort() cancels it, call.timedOut tells why it stopped.
  function getJSON(url, options, call) {
    call = call || new AbortController();
    var timer = setTimeout(function () { call.timedOut = true; call.abort(); }, timeout);
    return fetch(url, Object.assign({ signal: call.signal, credentials: "same-origin" }, options || {}))
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) {
            var error = new Error(str(data.error) || response.statusText);
            error.status = response.status;
            throw error;
          }
          return data;
        });
      })
      .finally(function () { clearTimeout(timer); });
  }

  function post(url, payload, call) {
    var options = { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) };
    return getJSON(url, options, call);
  }

  function safeUrl(value) {
    value = str(value).trim();
    if (/^#[\w-]*$/.test(value)) { return value; }
    try {
      var url = new URL(value, location.href);
      if (!/^https?:$/.test(url.protocol)) { return ""; }
      return url.origin === location.origin && /^\/(?!\/)/.test(value) ? value : url.href;
    } catch (error) {
      return "";
    }
  }

  /** Return a fragment of new elements holding only what `allowed` names from `html`. */
  function clean(html, allowed) {
    var source = new DOMParser().parseFromString("<!doctype html><body>" + str(html), "text/html").body;
    var out = document.createDocumentFragment();
    copy(source, out, allowed);
    return out;
  }

  function copy(from, to, allowed) {
    for (var node = from.firstChild; node; node = node.nextSibling) {
      if (node.nodeType === 3) {
        to.appendChild(document.createTextNode(node.data));
      } else if (node.nodeType === 1 && !DROP.test(node.localName)) {
        var tag = Object.prototype.hasOwnProperty.call(allowed, node.localName) ? allowed[node.localName] : "";
        if (!tag) {
          copy(node, to, allowed);
          continue;
        }
        var made = document.createElement(tag);
        if (tag === "a") {
          var href = safeUrl(node.getAttribute("href"));
          if (href) { made.setAttribute("href", href); }
          if (href && href.charAt(0) !== "#") { made.target = "_blank"; made.rel = "noopener noreferrer"; }
        } else if (/^h\d$/.test(tag) && ANCHOR.test(node.id)) {
          made.id = "s-" + node.id;
        }
        copy(node, made, allowed);
        to.appendChild(made);
      }
    }
  }

  // "/articles/<slug>#anchor" on the help host -> {slug, anchor}; anything else -> null.
  function articleRef(href) {
    var prefix = cfg.page.split("SLUG")[0];
    try {
      var url = new URL(href, location.href);
      var slug = url.pathname.slice(prefix.length);
      if (url.origin !== location.origin || url.pathname.indexOf(prefix) !== 0 || !SLUG.test(slug)) { return null; }
      return { slug: slug, anchor: url.hash.slice(1) };
    } catch (error) {
      return null;
    }
  }

  function pageUrl(slug, anchor) {
    return new URL(cfg.page.replace("SLUG", slug), location.href).href + (anchor ? "#" + anchor : "");
  }

  // --- accent colour, contrast ------------------------------------------------------

  function luminance(hex) {
    var digits = hex.length === 4 ? hex.replace(/(\w)/g, "$1$1").slice(1) : hex.slice(1);
    var sum = 0, weights = [0.2126, 0.7152, 0.0722];
    for (var i = 0; i < 3; i++) {
      var c = parseInt(digits.substr(i * 2, 2), 16) / 255;
      sum += weights[i] * (c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4));
    }
    return sum;
  }

  function contrast(a, b) { return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); }

  function applyAccent(hex) {
    if (!HEX.test(hex || "")) { return; }
    var lum = luminance(hex), root = document.documentElement.style;
    root.setProperty("--accent", hex);
    // Black or white, whichever reads better: one of them always reaches 4.5:1.
    root.setProperty("--on-accent", contrast(lum, 1) >= contrast(lum, 0) ? "#fff" : "#000");
    // Links and chips use the accent as text only where it is dark enough on the bubbles.
    root.setProperty("--link", contrast(lum, luminance("#f2f3f6")) >= 4.5 ? hex : "#1d2330");
  }

  // --- the host page -------------------------------------------------------------

  function tell(message) {
    if (framed && parentOrigin) {
      message.ns = NS;
      window.parent.postMessage(message, parentOrigin);
    }
  }

  window.addEventListener("message", function (event) {
    var m = event.data;
    if (!framed || event.source !== window.parent || event.origin !== parentOrigin || !m || m.ns !== NS) { return; }
    if (m.type === "layout") {
      body.classList.toggle("full", m.full === true);
      if (m.open) { reveal(); }
    } else if (m.type === "close") {
      close(true);
    } else if (m.type === "open") {
      open(m.focus === true);
    } else if (m.type === "ask" && str(m.question).trim()) {
      showTab("ask");
      open(m.focus === true);
      ask(m.question);
    } else if (m.type === "search") {
      showTab("search");
      open(m.focus === true);
      query.value = str(m.query).slice(0, 500);
      runSearch();
    } else if (m.type === "article" && SLUG.test(str(m.slug))) {
      open(m.focus === true);
      openArticle(m.slug, m.anchor);
    }
  });

  // --- opening and closing ----------------------------------------------------------

  function open(focus) {
    wantFocus = wantFocus || focus;
    if (opened) { return reveal(); }
    opened = true;
    // The host page sizes the iframe first, then answers with "layout"; alone, open at once.
    if (framed && parentOrigin) { tell({ type: "open" }); } else { body.classList.add("full"); reveal(); }
  }

  function reveal() {
    if (!opened) { return; }
    panel.hidden = false;
    body.classList.add("open");
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", L.close);
    if (wantFocus) {
      wantFocus = false;
      var view = !$("view-article").hidden ? article : state.tab === "search" ? query : question;
      view.focus({ preventScroll: true });
    }
  }

  function close(returnFocus) {
    if (!opened) { return; }
    var inside = document.hasFocus() && panel.contains(document.activeElement);
    opened = false;
    panel.hidden = true;
    body.classList.remove("open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", L.open);
    if (inside || !returnFocus) { launcher.focus(); }
    tell({ type: "close", hostFocus: returnFocus });
  }

  launcher.addEventListener("click", function () {
    if (opened) { close(false); } else { open(true); }
  });
  $("close").addEventListener("click", function () { close(true); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && opened) {
      event.preventDefault();
      close(true);
    }
  });

  // --- tabs -----------------------------------------------------------------------

  function showTab(name) {
    if (tabs.indexOf(name) < 0) { return; }
    $("view-article").hidden = true;
    ["ask", "search"].forEach(function (tab) {
      var on = tab === name, button = $("tab-" + tab);
      button.setAttribute("aria-selected", String(on));
      button.tabIndex = on ? 0 : -1;
      $("view-" + tab).hidden = !on;
    });
    state.tab = name;
    save();
  }

  $("tabs").addEventListener("click", function (event) {
    var tab = event.target.closest("[role=tab]");
    if (tab) { showTab(tab.id.slice(4)); }
  });
  $("tabs").addEventListener("keydown", function (event) {
    var step = { ArrowRight: 1, ArrowLeft: -1, Home: -9, End: 9 }[event.key];
    if (!step) { return; }
    event.preventDefault();
    var at = Math.max(0, Math.min(tabs.length - 1, tabs.indexOf(state.tab) + step));
    showTab(tabs[at]);
    $("tab-" + tabs[at]).focus();
  });

  // --- the conversation -------------------------------------------------------------

  function render() {
    log.textContent = "";
    var greeting = el("li", "msg bot");
    var hello = greeting.appendChild(el("div", "bubble"));
    hello.appendChild(el("p", "", (params.get("greeting") || "").trim().slice(0, 300) || L.greeting));
    // Labels follow the page's language; answers and articles are written in English, and say so.
    if (L.english) { hello.appendChild(el("p", "note", L.english)); }
    log.appendChild(greeting);
    state.messages.forEach(function (message, index) {
      var last = index === state.messages.length - 1;
      try {
        log.appendChild(message.who === "user" ? userItem(message) : message.who === "bot" ? botItem(message, last) : errorItem(message));
      } catch (error) {
        // A message that cannot be drawn must not freeze the conversation: show its text.
        log.appendChild(el("li", "msg bot")).appendChild(el("div", "bubble", str(message.text || (message.data && message.data.answer.text))));
      }
    });
    if (pendingAsk) {
      var waiting = el("li", "msg bot pending");
      var bubble = waiting.appendChild(el("div", "bubble"));
      bubble.appendChild(el("span", "dots")).setAttribute("aria-hidden", "true");
      bubble.appendChild(el("span", "vh", L.thinking));
      log.appendChild(waiting);
    }
    log.setAttribute("aria-busy", String(!!pendingAsk));
  }

  function show() {
    render();
    scrollTo(log, log.lastChild);
  }

  function userItem(message) {
    var item = el("li", "msg user");
    item.appendChild(el("span", "vh", L.you + ":"));
    item.appendChild(el("div", "bubble", message.text));
    if (message.cut) { item.appendChild(el("p", "note", L.cut)); }
    return item;
  }

  function botItem(message, last) {
    var data = message.data, item = el("li", "msg bot"), bubble = el("div", "bubble");
    item.appendChild(el("span", "vh", L.bot + ":"));
    english(bubble);
    var parts = splitAnswer(data);
    bubble.appendChild(parts.body);
    if (parts.structured) {
      if (data.settings) { bubble.appendChild(settingsBlock(data.settings)); }
      if (list(data.articles).length) { bubble.appendChild(linksBlock(data.articles)); }
      if (data.source) { bubble.appendChild(sourceLine(data.source)); }
    }
    if (data.fallback) {
      // One way to reach a person: the answer's own link to the support page if it has one.
      var href = safeUrl(cfg.supportUrl);
      var support = [].filter.call(bubble.querySelectorAll("a"), function (a) { return a.href === href; })[0];
      if (!support) {
        support = bubble.appendChild(el("a", "support", L.contact));
        support.href = href;
      }
      support.classList.add("support");
      support.target = "_blank";
      support.rel = "noopener";
    }
    item.appendChild(bubble);
    if (!data.clarify) { item.appendChild(feedback(message)); }
    if (last && list(data.suggestions).length) { item.appendChild(chips(data.suggestions)); }
    return item;
  }

  // The server's answer ends with the settings, "Read more" links and a source line, which
  // the panel shows as blocks of its own. They are cut from the text only when they are
  // exactly where and what they should be; otherwise the answer is shown as it came.
  function splitAnswer(data) {
    var fragment = clean(data.answer && data.answer.html, ANSWER);
    var blocks = [].filter.call(fragment.childNodes, function (n) { return n.nodeType === 1; });
    var at = blocks.length, ok = !data.clarify, links = list(data.articles), settings = data.settings || {};
    var hosts = Object.keys(settings).map(function (k) { return str(settings[k] && settings[k].host); });
    function take(test) {
      at -= 1;
      ok = ok && at >= 0 && test(blocks[at], blocks[at].firstElementChild);
    }
    if (data.source) { take(function (b, first) { return b.localName === "p" && first && first.localName === "em"; }); }
    if (links.length) {
      take(function (b) {
        var anchors = b.querySelectorAll("a");
        return b.localName === "ul" && anchors.length === links.length && links.every(function (link, i) {
          return anchors[i].getAttribute("href") === link.url;
        });
      });
      take(function (b, first) { return b.localName === "p" && !first; });
    }
    hosts.forEach(function () {
      take(function (b) {
        return b.localName === "ul" && hosts.some(function (host) { return host && b.textContent.indexOf(host) >= 0; });
      });
      take(function (b, first) { return b.localName === "p" && first && first.localName === "strong"; });
    });
    if (ok) { blocks.slice(at).forEach(function (b) { fragment.removeChild(b); }); }
    return { body: fragment, structured: ok };
  }

  function settingsBlock(settings) {
    var box = el("div", "settings");
    ["incoming", "outgoing"].forEach(function (direction) {
      var s = settings[direction];
      if (!s) { return; }
      var card = box.appendChild(el("div", "server"));
      card.appendChild(el("p", "name", L[direction] + " (" + str(s.protocol) + ")"));
      var rows = card.appendChild(el("dl"));
      function row(label, value) {
        rows.appendChild(el("dt", "", label));
        return rows.appendChild(el("dd", "", value));
      }
      var host = row(L.server, ""), code = host.appendChild(el("code"));
      host.className = "host";
      // A long host name may wrap after a dot, never inside a label.
      str(s.host).split(".").forEach(function (label, i) {
        code.appendChild(document.createTextNode((i ? "." : "") + label));
        code.appendChild(el("wbr"));
      });
      var copier = host.appendChild(button("copy", undefined, function () {
        navigator.clipboard.writeText(str(s.host)).then(function () {
          copier.classList.add("done");
          announce(L.copied);
        }, function () { /* no clipboard: the host name can still be selected */ });
      }));
      copier.setAttribute("aria-label", L.copy + " " + str(s.host));
      copier.title = L.copy;
      copier.appendChild($("icon-copy").content.cloneNode(true));
      row(L.port, String(s.port));
      row(L.security, str(s.security));
      if (s.alternative) { row(L.alternative, fmt(L.altValue, { port: s.alternative.port, security: str(s.alternative.security) })); }
      english(row(L.username, str(s.username)));
      english(row(L.authentication, str(s.authentication)));
    });
    return box;
  }

  function linkTitle(link) {
    return str(link.title) + (link.section ? " › " + str(link.section) : "");
  }

  function linksBlock(links) {
    var box = el("div", "links");
    box.appendChild(el("p", "label", L.readMore));
    var items = box.appendChild(el("ul"));
    links.forEach(function (link) {
      var a = items.appendChild(el("li")).appendChild(el("a", "", linkTitle(link)));
      a.href = safeUrl(link.url);
      a.target = "_blank";
      a.rel = "noopener";
    });
    return box;
  }

  function sourceLine(source) {
    var when = new Date(str(source.updated) + "T00:00:00Z");
    var date = isNaN(when) ? "" : " · " + L.updated + " " + when.toLocaleDateString(lang, { dateStyle: "medium", timeZone: "UTC" });
    return el("p", "source", L.from + ": " + linkTitle(source) + date);
  }

  function feedback(message) {
    var box = el("div", "feedback");
    if (message.vote) {
      box.appendChild(el("p", "", L.thanks)).tabIndex = -1;
      return box;
    }
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", L.helpful);
    box.appendChild(el("span", "", L.helpful));
    [["yes", true], ["no", false]].forEach(function (choice) {
      box.appendChild(button("vote", L[choice[0]], function () {
        message.vote = choice[0];
        save();
        post(cfg.feedback, { intent: message.data.intent, helpful: choice[1], session: state.session }).catch(function () {
          /* a lost vote is not worth bothering the user with */
        });
        var thanks = feedback(message);
        box.replaceWith(thanks);
        thanks.firstChild.focus();
        announce(L.thanks);
      }));
    });
    return box;
  }

  function chips(suggestions) {
    var box = el("div", "chips");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", L.suggestions);
    suggestions.slice(0, 6).forEach(function (text) {
      box.appendChild(button("chip", str(text), function () {
        question.focus();
        ask(str(text));
      }));
    });
    return box;
  }

  function errorItem(message) {
    var item = el("li", "msg bot error"), bubble = item.appendChild(el("div", "bubble"));
    bubble.appendChild(el("p", "", message.error || L.failed));
    if (message.retry) {
      bubble.appendChild(button("retry", L.retry, function () {
        state.messages.splice(state.messages.indexOf(message), 1);
        question.focus();
        request(message.question);
      }));
    }
    return item;
  }

  function ask(text) {
    // The server takes questions up to MAX_QUESTION characters; a longer paste is cut here, and said so.
    text = str(text).trim();
    var cut = text.length > MAX_QUESTION;
    text = text.slice(0, MAX_QUESTION);
    if (!text) { return; }
    state.messages.push(cut ? { who: "user", text: text, cut: true } : { who: "user", text: text });
    save();
    request(text);
  }

  function request(text) {
    if (pendingAsk) { pendingAsk.abort(); }
    var call = pendingAsk = new AbortController();
    show();
    post(cfg.ask, { question: text, session: state.session }, call).then(function (data) {
      if (call !== pendingAsk) { return; }
      var answer = data.answer || {};
      state.messages.push({ who: "bot", data: {
        intent: str(data.intent), fallback: data.fallback === true, clarify: data.clarify === true,
        answer: { html: str(answer.html), text: str(answer.text) }, settings: data.settings || null,
        articles: list(data.articles), suggestions: list(data.suggestions), source: data.source || null
      } });
      pendingAsk = null;
      save();
      show();
      announce(L.answer + ": " + str(answer.text).slice(0, 600));
      tell({ type: "answer", intent: str(data.intent), fallback: data.fallback === true });
    }, function (error) {
      if (call !== pendingAsk) { return; }
      pendingAsk = null;
      // Input the server rejected (4xx) will not pass on a retry; anything else may.
      var rejected = error.status >= 400 && error.status < 500;
      state.messages.push({ who: "error", question: text, retry: !rejected, error: rejected ? error.message : "" });
      save();
      show();
      announce(rejected ? error.message : L.failed);
    });
  }

  $("ask-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = question.value;
    question.value = "";
    ask(text);
  });

  // --- search ---------------------------------------------------------------------

  function runSearch() {
    clearTimeout(searchTimer);
    var text = query.value.trim();
    state.query = text;
    save();
    if (searchCall) { searchCall.abort(); }
    results.textContent = "";
    searchStatus.textContent = "";
    if (text.length < 2) { return; }
    var call = searchCall = new AbortController();
    searchStatus.textContent = L.searching;
    getJSON(cfg.search + "?" + new URLSearchParams({ q: text, limit: 8 }), {}, call).then(function (data) {
      if (call === searchCall) { showResults(text, data); }
    }, function (error) {
      if (call !== searchCall || (error.name === "AbortError" && !call.timedOut)) { return; }
      searchStatus.textContent = L.failed + " ";
      searchStatus.appendChild(button("retry", L.retry, runSearch));
      announce(L.failed);
    });
  }

  function showResults(text, data) {
    var hits = list(data.results);
    // Results are sections: how many, and (when the server knows) from how many articles.
    var count = fmt(data.total === 1 ? L.one : L.many, { n: data.total });
    if (data.articles > 0) { count += fmt(data.articles === 1 ? L.inOne : L.inMany, { n: data.articles }); }
    searchStatus.textContent = hits.length ? count : fmt(L.none, { q: text });
    announce(searchStatus.textContent);
    if (data.suggestion) {
      var hint = searchStatus.appendChild(el("span", "hint", " " + L.didYouMean + " "));
      hint.appendChild(button("link", str(data.suggestion), function () {
        query.value = str(data.suggestion);
        runSearch();
      }));
    }
    if (!hits.length && tabs.indexOf("ask") >= 0) {
      searchStatus.appendChild(button("link block", L.askInstead, function () {
        showTab("ask");
        question.focus();
        ask(text);
      }));
    }
    hits.forEach(function (hit, index) {
      var a = results.appendChild(el("li")).appendChild(el("a", "hit"));
      a.addEventListener("click", function () { clicked(data.ref, hit.url, index + 1); });
      a.href = new URL(safeUrl(hit.url) || "#", location.href).href;
      a.target = "_blank";
      a.rel = "noopener";
      english(a);
      a.appendChild(el("span", "t", str(hit.section) || str(hit.title)));
      if (hit.section) { a.appendChild(el("span", "w", str(hit.title))); }
      a.appendChild(el("span", "snip")).appendChild(clean(hit.snippet, SNIPPET));
    });
  }

  // Tell the help center which result was opened, so it learns which searches nobody followed.
  function clicked(ref, url, rank) {
    if (!ref || !cfg.click || !navigator.sendBeacon) { return; }
    var body = JSON.stringify({ ref: str(ref), url: str(url), rank: rank });
    navigator.sendBeacon(cfg.click, new Blob([body], { type: "application/json" }));
  }

  query.addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 250);
  });
  $("search-form").addEventListener("submit", function (event) {
    event.preventDefault();
    runSearch();
  });

  // --- articles inside the panel ------------------------------------------------------

  function openArticle(slug, anchor) {
    anchor = ANCHOR.test(str(anchor)) ? anchor : "";
    if (!SLUG.test(str(slug))) { return; }
    if ($("view-article").hidden) { articleOpener = document.activeElement; }
    $("view-ask").hidden = $("view-search").hidden = true;
    $("view-article").hidden = false;
    newtab.href = pageUrl(slug, anchor);
    article.textContent = "";
    article.appendChild(el("p", "status", L.loading));
    if (articleCall) { articleCall.abort(); }
    var call = articleCall = new AbortController();
    getJSON(cfg.article.replace("SLUG", slug), {}, call).then(function (data) {
      if (call !== articleCall) { return; }
      article.textContent = "";
      article.appendChild(el("h2", "", str(data.title)));
      article.appendChild(clean(data.html, ARTICLE));
      var target = anchor && $("s-" + anchor);
      if (target) {
        target.tabIndex = -1;
        scrollTo(article, target);
        target.focus({ preventScroll: true });
      } else {
        article.scrollTop = 0;
        article.focus({ preventScroll: true });
      }
      announce(str(data.title) + (target ? " › " + target.textContent : ""));
    }, function (error) {
      if (call !== articleCall || (error.name === "AbortError" && !call.timedOut)) { return; }
      article.textContent = "";
      article.appendChild(el("p", "status", error.status === 404 ? error.message : L.failed));
      article.appendChild(button("retry", L.retry, function () { openArticle(slug, anchor); }));
    });
  }

  $("back").addEventListener("click", function () {
    showTab(state.tab || tabs[0]);
    var opener = articleOpener && document.contains(articleOpener) ? articleOpener : $("tab-" + state.tab);
    opener.focus();
  });

  // Links to help articles open inside the panel (a modified click still opens a tab).
  panel.addEventListener("click", function (event) {
    var link = event.target.closest("a[href]");
    if (!link || link === newtab || event.defaultPrevented) { return; }
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) { return; }
    var hash = link.getAttribute("href");
    if (hash.charAt(0) === "#") {
      event.preventDefault();
      var target = $("s-" + hash.slice(1));
      if (target) { scrollTo(article, target); }
      return;
    }
    var ref = articleRef(link.href);
    if (ref) {
      event.preventDefault();
      openArticle(ref.slug, ref.anchor);
    }
  });

  // --- start ----------------------------------------------------------------------

  document.documentElement.lang = lang;
  english(article);
  document.title = fmt(L.title, { provider: cfg.provider });
  $("title").textContent = document.title;
  [].forEach.call(document.querySelectorAll("[data-l]"), function (n) { n.textContent = L[n.dataset.l]; });
  [].forEach.call(document.querySelectorAll("[data-l-aria]"), function (n) { n.setAttribute("aria-label", L[n.dataset.lAria]); });
  [].forEach.call(document.querySelectorAll("[data-l-ph]"), function (n) { n.placeholder = L[n.dataset.lPh]; });
  applyAccent(params.get("accent"));
  body.classList.toggle("left", params.get("position") === "bottom-left");
  if (tabs.length < 2) { $("tabs").hidden = true; }
  showTab(tabs.indexOf(state.tab) >= 0 ? state.tab : tabs[0]);
  query.value = state.query || "";
  if (query.value) { runSearch(); }
  render();
  if (framed && parentOrigin) {
    tell({ type: "ready", title: document.title });
  } else if (!framed) {
    body.classList.add("alone");
    open(true);
  }
})();
