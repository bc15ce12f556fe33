// uiab tracker: injected at document start in every page (an init script) before the page's own scripts.
// Every event goes to Python at once through the exposed binding, so navigating away loses nothing that
// happened before it. Timestamps come from Date.now(), which Playwright's clock makes virtual.
(() => {
  if (window.__uiab) return;
  const config = window.__UIAB_CONFIG__ || { goals: [] };
  const backlog = [];

  function send(type, data) {
    if (type !== "page_view") start();
    const event = Object.assign({ type, t: Date.now(), url: location.pathname + location.search }, data || {});
    if (typeof window.__uiab_emit === "function") {
      while (backlog.length) window.__uiab_emit(backlog.shift());
      window.__uiab_emit(event);
    } else {
      backlog.push(event);  // the binding is installed with the page; flushed on the next event
    }
  }

  // INTERACTIVE and selectorOf, shared with the persona snapshot (agent/kernel/js/page_common.js), go here.
  // @uiab:page-common

  // Playwright's clock catches up on its own log the first time it is read after all init scripts ran;
  // read during this script it would still show the time of the first page. The clock is paused, so the
  // moment the document starts parsing is the same virtual instant as navigation.
  let pageStart = null;
  let maxDepth = 0;
  let reportedBucket = -1;
  let left = false;

  function scrollDepth() {
    const doc = document.documentElement;
    if (!doc) return 0;
    const height = Math.max(doc.scrollHeight, document.body ? document.body.scrollHeight : 0, 1);
    return Math.min(1, (window.scrollY + window.innerHeight) / height);
  }

  function noteScroll() {
    maxDepth = Math.max(maxDepth, scrollDepth());
    const bucket = Math.floor(maxDepth * 10);
    if (bucket > reportedBucket) {
      reportedBucket = bucket;
      send("scroll", { depth: Number(maxDepth.toFixed(3)), y: Math.round(window.scrollY) });
    }
  }

  function leave(reason) {
    if (left) return;
    start();
    left = true;
    maxDepth = Math.max(maxDepth, scrollDepth());
    send("page_leave", { dwell_ms: Date.now() - pageStart, scroll_depth: Number(maxDepth.toFixed(3)), reason });
  }

  function start() {
    if (pageStart !== null) return;
    pageStart = Date.now();
    send("page_view", { referrer: document.referrer || null, title: document.title || null });
    for (const goal of config.goals) {
      if (goal.url && (location.pathname === goal.url || location.pathname + location.search === goal.url)) {
        send("goal", { goal: goal.name, via: "url" });
      }
    }
  }
  document.addEventListener("readystatechange", start, { once: true });
  document.addEventListener("DOMContentLoaded", start, { once: true });

  window.addEventListener("click", (e) => {
    const target = e.target instanceof Element ? e.target : null;
    const interactive = target ? target.closest(INTERACTIVE) : null;
    // x, y are viewport coordinates (what the persona aimed at); px, py are page coordinates, which the
    // report's heatmaps need to draw clicks over a full-page screenshot whatever the scroll position.
    send("click", {
      x: Math.round(e.clientX), y: Math.round(e.clientY), px: Math.round(e.pageX), py: Math.round(e.pageY),
      selector: selectorOf(interactive || target),
      target: selectorOf(target),
      interactive: !!interactive,
      text: ((interactive || target) && (interactive || target).textContent || "").trim().slice(0, 80),
    });
    if (!interactive) {
      send("misclick", { x: Math.round(e.clientX), y: Math.round(e.clientY), px: Math.round(e.pageX),
                         py: Math.round(e.pageY), target: selectorOf(target) });
    }
    for (const goal of config.goals) {
      if (goal.click && target && target.closest(goal.click)) send("goal", { goal: goal.name, via: "click" });
    }
  }, true);

  window.addEventListener("scroll", noteScroll, { passive: true, capture: true });
  window.addEventListener("load", noteScroll);
  window.addEventListener("pagehide", () => leave("pagehide"));
  // The Navigation API fires synchronously when a link, form or script starts a navigation; the event
  // reaches Python before the old document goes away, so Python knows whether to wait for a new one.
  if (window.navigation) {
    window.navigation.addEventListener("navigate", (e) => {
      send("navigate", { to: e.destination.url, same_document: !!e.destination.sameDocument });
      // The page is left when the navigation starts: pagehide fires too late for its message to arrive.
      if (!e.destination.sameDocument) leave("navigate");
    });
  }

  window.addEventListener("error", (e) => {
    send("js_error", { message: String(e.message || e.error || "error"), source: e.filename || null,
                       line: e.lineno || null });
  });
  window.addEventListener("unhandledrejection", (e) => {
    send("js_error", { message: "unhandled rejection: " + String(e.reason && e.reason.message || e.reason) });
  });
  const consoleError = console.error.bind(console);
  console.error = (...args) => {
    send("console_error", { message: args.map((a) => String(a)).join(" ").slice(0, 500) });
    consoleError(...args);
  };

  Object.defineProperty(window, "__uiab", {
    value: Object.freeze({ send, leave, selectorOf, scrollDepth }),
    enumerable: false,
  });
})();
