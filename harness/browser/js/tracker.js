// uiab tracker: runs at document start in every page, in uiab's isolated world (harness/browser/isolated.py),
// before the page's own scripts. It shares the page's DOM but none of its JavaScript: page script can neither
// see nor call anything here. Every event goes to Python at once through the world's binding, so navigating
// away loses nothing that happened before it. Time is not read here (this world's clock is the real one, the
// virtual clock fakes only the page's): Python stamps each event and computes dwell on its virtual clock.
// Only trusted events count: a click, a navigation or a page hide that page script dispatched is not one.
(() => {
  if (window.__uiab) return;
  const config = window.__UIAB_CONFIG__ || { goals: [] };
  const backlog = [];

  function send(type, data) {
    if (type !== "page_view") start();
    // t (and a leave's dwell_ms) are filled in by Python; the keys are here so the event keeps its shape.
    const event = Object.assign({ type, t: null, url: location.pathname + location.search }, data || {});
    const emit = window.__uiab_emit;  // the binding, installed in this world before this script runs
    if (typeof emit === "function") {
      while (backlog.length) emit(JSON.stringify(backlog.shift()));
      emit(JSON.stringify(event));
    } else {
      backlog.push(event);  // no binding yet: flushed with the next event
    }
  }

  // INTERACTIVE and selectorOf, shared with the persona snapshot (agent/kernel/js/page_common.js), go here.
  // @uiab:page-common

  let started = false;
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
    send("page_leave", { dwell_ms: null, scroll_depth: Number(maxDepth.toFixed(3)), reason });
  }

  function start() {
    if (started) return;
    started = true;
    send("page_view", { referrer: document.referrer || null, title: document.title || null });
    for (const goal of config.goals) {
      if (goal.url && (location.pathname === goal.url || location.pathname + location.search === goal.url)) {
        send("goal", { goal: goal.name, via: "url" });
      }
    }
  }
  // Listeners are registered in this world, so page script cannot remove them; a synthetic event it
  // dispatches reaches them too, with isTrusted false, and is ignored.
  const trusted = (handler) => (e) => { if (e.isTrusted) handler(e); };
  document.addEventListener("readystatechange", trusted(start));
  document.addEventListener("DOMContentLoaded", trusted(start));

  window.addEventListener("click", trusted((e) => {
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
  }), true);

  window.addEventListener("scroll", trusted(noteScroll), { passive: true, capture: true });
  window.addEventListener("load", trusted(noteScroll));
  window.addEventListener("pagehide", trusted(() => leave("pagehide")));
  // The Navigation API fires synchronously when a link, form or script starts a navigation; the event
  // reaches Python before the old document goes away, so Python knows whether to wait for a new one.
  if (window.navigation) {
    window.navigation.addEventListener("navigate", trusted((e) => {
      send("navigate", { to: e.destination.url, same_document: !!e.destination.sameDocument });
      // The page is left when the navigation starts: pagehide fires too late for its message to arrive.
      if (!e.destination.sameDocument) leave("navigate");
    }));
  }
  // Page errors and console errors are not listened for here: Python takes them from the browser itself.

  Object.defineProperty(window, "__uiab", {
    value: Object.freeze({ send, leave, selectorOf, scrollDepth }),
    enumerable: false,
  });
})();
