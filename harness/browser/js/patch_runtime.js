// uiab patch runtime: the one trusted script that applies a patch. It runs as an init script (after the
// tracker, before the page's own scripts) and reads a plain-data config from window.__UIAB_PATCH__:
// {name, digest, css, ops, selectors}. The CSS was validated and re-serialised in Python; the ops are a
// closed set of DOM operations. Nothing in the config is ever run as code or parsed as markup: text goes
// through textContent, attributes through setAttribute on a fixed allowlist, and no op ever changes (or
// moves, or uses as its target) an element that is not content: a script's text set before the parser ran
// it would run as code, a style's would be CSS nobody validated.
(() => {
  const config = window.__UIAB_PATCH__;
  try { delete window.__UIAB_PATCH__; } catch (e) { /* not deletable: harmless, it is plain data */ }
  if (!config || typeof config !== "object") return;
  // Patches change the page the visitor sees, not its frames: a frame's report (nothing matched) would
  // otherwise overwrite the page's.
  if (window.top !== window) return;

  const KINDS = new Set(["set_text", "move_before", "move_after", "hide", "show", "sticky", "swap", "set_attr"]);
  const ATTRS = new Set(["aria-label", "title", "alt"]);
  const TAKES_TARGET = new Set(["move_before", "move_after", "swap"]);
  // Lower-case local names, HTML and SVG alike; the same list as NON_CONTENT_ELEMENTS in
  // agent/css_grammar.py. The Python model refuses selectors that name these; this catches the rest
  // (#x or .y on a <script id=x class=y>) on the element itself.
  const NOT_CONTENT = new Set([
    "script", "style", "link", "meta", "base", "iframe", "frame", "frameset", "fencedframe", "portal",
    "object", "embed", "param", "applet", "template", "noscript", "head", "html", "title", "foreignobject",
  ]);
  const notContent = (el) => NOT_CONTENT.has(String(el.localName).toLowerCase());

  // One registry per document, so a patch installed twice (same name and digest) is applied once, and
  // tests and `uiab patch check` can ask for the current reports.
  let registry = window.__uiab_patches;
  if (!registry) {
    const entries = new Map();
    registry = Object.freeze({
      has: (key) => entries.has(key),
      add: (key, patch) => { entries.set(key, patch); },
      reports: () => Array.from(entries.values(), (patch) => patch.report()),
      apply: () => { entries.forEach((patch) => patch.apply()); },
    });
    Object.defineProperty(window, "__uiab_patches", { value: registry, enumerable: false });
  }
  const name = String(config.name);
  const key = name + ":" + String(config.digest || "");
  if (registry.has(key)) return;

  const ops = Array.isArray(config.ops) ? config.ops : [];
  const selectors = Array.isArray(config.selectors) ? config.selectors.map(String) : [];
  const done = ops.map(() => new WeakSet());  // elements each op already changed: re-applying is a no-op
  // refused: why an element the op matched was left alone; it fails the op even if others were changed.
  const state = ops.map(() => ({ count: 0, reason: null, refused: null }));

  // CSS first, at document start: an adopted sheet needs no <head>, so it is in place before first paint.
  let cssStatus = "none";
  if (config.css) {
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(String(config.css));
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
      cssStatus = "applied";
    } catch (e) {
      cssStatus = "failed";
    }
  }

  function all(selector) {
    try { return Array.from(document.querySelectorAll(selector)); } catch (e) { return null; }
  }

  function important(el, property, value) {
    el.style.setProperty(property, value, "important");
  }

  const APPLY = {
    set_text(el, op) {
      const text = String(op.text);
      if (el.textContent !== text) el.textContent = text;
    },
    hide(el) { important(el, "display", "none"); },
    show(el) {
      el.removeAttribute("hidden");
      if (el.style.getPropertyValue("display") === "none") el.style.removeProperty("display");
      // "revert" falls back to the browser's default display for the element (block, inline, ...).
      if (getComputedStyle(el).display === "none") important(el, "display", "revert");
      if (getComputedStyle(el).visibility === "hidden") important(el, "visibility", "visible");
    },
    sticky(el) {
      important(el, "position", "sticky");
      important(el, "top", "0px");
      important(el, "z-index", "100");
    },
    set_attr(el, op) {
      if (!ATTRS.has(op.attr)) throw new Error("attribute " + op.attr + " is not allowed");
      el.setAttribute(op.attr, String(op.value));
    },
    move_before(el, op, target) {
      if (el.nextElementSibling !== target) target.before(el);
    },
    move_after(el, op, target) {
      if (el.previousElementSibling !== target) target.after(el);
    },
    swap(el, op, target) {
      const mark = document.createComment("");
      el.replaceWith(mark);
      target.replaceWith(el);
      mark.replaceWith(target);
    },
  };

  const STRUCTURAL = new Set(["move_before", "move_after", "swap"]);
  let ready = false;

  function applyOp(op, i) {
    const st = state[i];
    if (!op || !KINDS.has(op.op)) { st.reason = "unknown op " + String(op && op.op); return; }
    // Moves wait for the parser: moving siblings while it still appends to their parent would give an
    // order that depends on how the bytes arrived. Element-local ops apply as soon as the element exists.
    if (STRUCTURAL.has(op.op) && !ready) { st.reason = "document still loading"; return; }
    if (op.op === "set_attr" && !ATTRS.has(op.attr)) {
      st.reason = "attribute " + String(op.attr) + " is not allowed";
      return;
    }
    const found = all(String(op.selector));
    if (found === null) { st.reason = "invalid selector"; return; }
    if (!found.length) { st.reason = "no element matches " + op.selector; return; }
    let target = null;
    if (TAKES_TARGET.has(op.op)) {
      const targets = all(String(op.target));
      target = targets && targets[0];
      if (!target) { st.reason = "no element matches target " + String(op.target); return; }
      if (notContent(target)) { st.refused = refusal(target, "target "); return; }
    }
    // Swap pairs the first matches; move_after walks backwards so moved elements keep their order.
    const list = op.op === "swap" ? found.slice(0, 1) : op.op === "move_after" ? found.reverse() : found;
    for (const el of list) {
      if (done[i].has(el)) continue;
      if (notContent(el)) { st.refused = refusal(el, ""); continue; }
      if (target && (el === target || el.contains(target) || (op.op === "swap" && target.contains(el)))) {
        st.reason = "element and target are the same or nested";
        continue;
      }
      try {
        APPLY[op.op](el, op, target);
      } catch (e) {
        st.reason = String((e && e.message) || e);
        continue;
      }
      done[i].add(el);
      if (op.op === "swap") done[i].add(target);
      st.count += 1;
    }
  }

  function refusal(el, what) {
    return "refused " + what + "<" + String(el.localName).toLowerCase() +
      ">: a DOM op may change only elements that render content";
  }

  function report() {
    const matched = {};
    for (const selector of selectors) {
      const found = all(selector);
      matched[selector] = found ? found.length : 0;
    }
    const opReports = ops.map((op, i) => {
      const st = state[i];
      const applied = st.count > 0 && !st.refused;
      return {
        op: String(op && op.op),
        selector: String(op && op.selector),
        status: applied ? "applied" : "failed",
        reason: applied ? null : st.refused || st.reason,
      };
    });
    // A patch that matched nothing did nothing: it is a failed action, never a silent success.
    const applied = cssStatus !== "failed" && selectors.every((s) => matched[s] > 0) &&
      opReports.every((r) => r.status === "applied");
    return { name, selectors: matched, ops: opReports, css: cssStatus, applied };
  }

  let applying = false;
  let lastSent = null;

  function apply() {
    if (applying) return;
    applying = true;
    try {
      ops.forEach(applyOp);
    } finally {
      applying = false;
    }
    if (!ready) return;
    const current = report();
    const text = JSON.stringify(current);
    if (text === lastSent) return;
    lastSent = text;
    if (window.__uiab && typeof window.__uiab.send === "function") window.__uiab.send("patch", current);
  }

  registry.add(key, { apply, report });
  // Elements are changed as the parser creates them (mutation callbacks run before the next parser-
  // inserted script and before paint), and again whenever the page adds elements later.
  new MutationObserver(apply).observe(document, { childList: true, subtree: true });
  const start = () => { ready = true; apply(); };
  if (document.readyState === "loading") {
    // Only the parser's own DOMContentLoaded: one the page dispatches itself must not make the runtime report early.
    const onReady = (e) => {
      if (!e.isTrusted) return;
      document.removeEventListener("DOMContentLoaded", onReady);
      start();
    };
    document.addEventListener("DOMContentLoaded", onReady);
  } else {
    start();
  }
})();
