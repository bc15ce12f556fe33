// uiab perception snapshot: ONE function expression, evaluated with a single page.evaluate(SNAPSHOT_JS, args).
// It only reads the page (layout, computed style, hit tests): no DOM writes, no scrolling, no focus changes,
// so taking a snapshot never changes what the tracker records.
// Returns plain JSON; personas/snapshot.py turns it into typed dataclasses (PageSnapshot.from_dict).
(args) => {
  const opts = Object.assign({ maxCandidates: 400, maxBlocks: 600, maxText: 200 }, args || {});

  // INTERACTIVE and selectorOf, shared with the tracker (agent/kernel/js/page_common.js), go here.
  // @uiab:page-common

  // Paragraph-ish containers: words are attributed to the nearest one (outermost wins when nested).
  const BLOCKS = "p, h1, h2, h3, h4, h5, h6, li, blockquote, figcaption, td, th, dd, dt, pre, caption, " +
    "legend, address";

  const vw = window.innerWidth;
  const vh = window.innerHeight;
  const sx = window.scrollX;
  const sy = window.scrollY;
  const root = document.documentElement;
  const body = document.body;
  const docW = Math.max(root.scrollWidth, body ? body.scrollWidth : 0, vw);
  const docH = Math.max(root.scrollHeight, body ? body.scrollHeight : 0, vh);

  function shown(el) {
    // display:none anywhere above, visibility:hidden, opacity:0 anywhere above -> not perceivable at all.
    if (typeof el.checkVisibility === "function") {
      return el.checkVisibility({ opacityProperty: true, visibilityProperty: true,
                                  checkOpacity: true, checkVisibilityCSS: true });
    }
    const style = getComputedStyle(el);
    return el.getClientRects().length > 0 && style.visibility !== "hidden" && style.opacity !== "0";
  }

  // ---- colour -------------------------------------------------------------------------------------
  function parseColor(text) {
    const m = /rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:[,\s/]+([\d.]+%?))?\s*\)/.exec(text || "");
    if (!m) return null;
    let a = m[4] === undefined ? 1 : m[4].endsWith("%") ? parseFloat(m[4]) / 100 : parseFloat(m[4]);
    return [parseFloat(m[1]), parseFloat(m[2]), parseFloat(m[3]), a];
  }
  function over(top, under) {  // source-over compositing of an RGBA layer on an opaque colour
    const a = top[3];
    return [top[0] * a + under[0] * (1 - a), top[1] * a + under[1] * (1 - a), top[2] * a + under[2] * (1 - a), 1];
  }
  function layerOf(style) {
    // background-color, then a gradient's stops averaged (a fair stand-in for the colour behind small text);
    // url() images are unknown here and leave the colour beneath unchanged.
    let layer = parseColor(style.backgroundColor);
    const image = style.backgroundImage || "";
    if (image.includes("gradient")) {
      const stops = (image.match(/rgba?\([^)]*\)/g) || []).map(parseColor).filter(Boolean);
      if (stops.length) {
        const n = stops.length;
        const mean = [0, 1, 2, 3].map((i) => stops.reduce((s, c) => s + c[i], 0) / n);
        layer = layer && layer[3] > 0 ? over(mean, over(layer, [255, 255, 255, 1])) : mean;
      }
    }
    return layer && layer[3] > 0 ? layer : null;
  }
  const bgCache = new Map();
  function effectiveBackground(el) {
    // Resolved through DOM ancestors (not the paint order): composite every ancestor's background over
    // the canvas, which is white unless the root or body paints one (CSS Backgrounds 3, canvas default).
    if (!el || el.nodeType !== 1) return [255, 255, 255, 1];
    if (bgCache.has(el)) return bgCache.get(el);
    const below = effectiveBackground(el.parentElement);
    const layer = layerOf(getComputedStyle(el));
    const result = layer ? over(layer, below) : below;
    bgCache.set(el, result);
    return result;
  }
  function luminance(c) {  // WCAG 2.x relative luminance of sRGB
    const lin = c.slice(0, 3).map((v) => {
      const s = v / 255;
      return s <= 0.04045 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  }
  function contrast(a, b) {  // WCAG 2.x SC 1.4.3: (L1 + 0.05) / (L2 + 0.05), lighter over darker
    const la = luminance(a);
    const lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }
  const round = (v, d = 2) => Math.round(v * 10 ** d) / 10 ** d;
  const rgb = (c) => [Math.round(c[0]), Math.round(c[1]), Math.round(c[2])];

  // ---- geometry -----------------------------------------------------------------------------------
  function intersect(a, b) {
    const left = Math.max(a.left, b.left);
    const top = Math.max(a.top, b.top);
    const right = Math.min(a.right, b.right);
    const bottom = Math.min(a.bottom, b.bottom);
    return right > left && bottom > top ? { left, top, right, bottom } : null;
  }
  const area = (r) => (r ? (r.right - r.left) * (r.bottom - r.top) : 0);
  function clipOf(el, rect) {
    // The part of the box not cut off by an ancestor with overflow other than visible (approximation:
    // ignores containing blocks of fixed/absolute elements) and inside the document's scrollable area.
    let clip = { left: rect.left, top: rect.top, right: rect.right, bottom: rect.bottom };
    const fixed = getComputedStyle(el).position === "fixed";
    for (let node = fixed ? null : el.parentElement; node && node !== root && node !== body && clip;
      node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.overflowX !== "visible" || style.overflowY !== "visible") {
        const r = node.getBoundingClientRect();
        clip = intersect(clip, { left: style.overflowX === "visible" ? -Infinity : r.left,
                                 right: style.overflowX === "visible" ? Infinity : r.right,
                                 top: style.overflowY === "visible" ? -Infinity : r.top,
                                 bottom: style.overflowY === "visible" ? Infinity : r.bottom });
      }
    }
    const doc = fixed ? { left: 0, top: 0, right: vw, bottom: vh }
      : { left: -sx, top: -sy, right: docW - sx, bottom: docH - sy };
    return clip ? intersect(clip, doc) : null;
  }
  function box(r, dx, dy) {
    return { x: round(r.left + dx), y: round(r.top + dy), width: round(r.right - r.left),
             height: round(r.bottom - r.top) };
  }

  // ---- accessible name (a practical subset of accname 1.2) ------------------------------------------
  const squash = (s) => (s || "").replace(/\s+/g, " ").trim();
  function textWithAlt(el) {
    // Visible text plus alt/aria-label of images and labelled SVGs inside, as a screen reader would say.
    let out = "";
    for (const node of el.childNodes) {
      if (node.nodeType === 3) out += node.textContent;
      else if (node.nodeType === 1) {
        const child = node;
        if (child.getAttribute("aria-hidden") === "true") continue;
        if (!shown(child)) continue;
        const tag = child.tagName.toLowerCase();
        if (tag === "img") out += " " + (child.getAttribute("alt") || "") + " ";
        else if (tag === "svg") {
          const title = child.querySelector("title");
          out += " " + (child.getAttribute("aria-label") || (title ? title.textContent : "")) + " ";
        } else if (child.getAttribute("aria-label")) out += " " + child.getAttribute("aria-label") + " ";
        else out += " " + textWithAlt(child) + " ";
      }
    }
    return out;
  }
  function nameOf(el) {
    const labelledby = el.getAttribute("aria-labelledby");
    if (labelledby) {
      const text = labelledby.split(/\s+/).map((id) => document.getElementById(id))
        .filter(Boolean).map((n) => squash(n.textContent)).join(" ");
      if (squash(text)) return squash(text);
    }
    const aria = squash(el.getAttribute("aria-label"));
    if (aria) return aria;
    const tag = el.tagName.toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea") {
      const type = (el.getAttribute("type") || "").toLowerCase();
      if (tag === "input" && ["submit", "button", "reset"].includes(type)) {
        return squash(el.value) || (type === "reset" ? "Reset" : "Submit");
      }
      if (tag === "input" && type === "image") return squash(el.getAttribute("alt"));
      const labels = el.labels ? Array.from(el.labels).map((l) => squash(l.textContent)).filter(Boolean) : [];
      if (labels.length) return labels.join(" ");
      const placeholder = squash(el.getAttribute("placeholder"));
      if (placeholder) return placeholder;
    } else {
      const text = squash(textWithAlt(el));
      if (text) return text;
    }
    return squash(el.getAttribute("title"));
  }

  const WORD = /[\p{L}\p{N}]/u;
  const countWords = (s) => (s || "").split(/\s+/).filter((w) => WORD.test(w)).length;

  // ---- candidates ---------------------------------------------------------------------------------
  const candidates = [];
  for (const el of document.querySelectorAll(INTERACTIVE)) {
    if (candidates.length >= opts.maxCandidates) break;
    if (el.tagName.toLowerCase() === "input" && (el.getAttribute("type") || "").toLowerCase() === "hidden") continue;
    if (!shown(el)) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width <= 0 || rect.height <= 0) continue;
    const clip = clipOf(el, rect);
    if (!clip) continue;  // wholly clipped away or off the document: nothing of it can be seen
    // Aim at the centre of the largest line box (a link wrapped over two lines has an empty bounding centre),
    // cut to the part that is not clipped away.
    let aimRect = rect;
    const rects = el.getClientRects();
    if (rects.length > 1) {
      aimRect = Array.from(rects).reduce((best, r) => (r.width * r.height > best.width * best.height ? r : best));
    }
    const aimBox = intersect({ left: aimRect.left, top: aimRect.top, right: aimRect.right, bottom: aimRect.bottom },
                             clip) || clip;
    const ax = (aimBox.left + aimBox.right) / 2;
    const ay = (aimBox.top + aimBox.bottom) / 2;
    const full = area(rect);
    const visible = full > 0 ? area(clip) / full : 0;
    const inView = full > 0 ? area(clip ? intersect(clip, { left: 0, top: 0, right: vw, bottom: vh }) : null) / full : 0;
    let occluded = null;
    let occluder = null;
    if (ax >= 0 && ay >= 0 && ax < vw && ay < vh) {
      // Hit test at the aim point: what a click there would reach. Only meaningful inside the viewport.
      const hit = document.elementFromPoint(ax, ay);
      occluded = !(hit && (hit === el || el.contains(hit)));
      if (occluded && hit) occluder = selectorOf(hit);
    }
    const style = getComputedStyle(el);
    const bg = effectiveBackground(el);
    const around = effectiveBackground(el.parentElement);
    let fg = parseColor(style.color) || [0, 0, 0, 1];
    fg = over(fg, bg);
    const tag = el.tagName.toLowerCase();
    candidates.push({
      index: candidates.length,
      selector: selectorOf(el),
      tag,
      role: el.getAttribute("role") || null,
      type: tag === "input" ? (el.getAttribute("type") || "text").toLowerCase() : null,
      href: tag === "a" ? el.getAttribute("href") : null,
      name: nameOf(el).slice(0, opts.maxText),
      text: squash(el.innerText || el.value || "").slice(0, opts.maxText),
      bbox: box(rect, sx, sy),
      vbox: box(rect, 0, 0),
      aim: { x: round(ax + sx), y: round(ay + sy) },
      visible: round(visible, 4),
      in_viewport: round(inView, 4),
      occluded,
      occluder,
      color: rgb(fg),
      background: rgb(bg),
      contrast: round(contrast(fg, bg), 3),
      // The control's own fill against what surrounds it (WCAG 1.4.11 non-text contrast): a filled button.
      fill_contrast: round(contrast(bg, around), 3),
      font_size_px: parseFloat(style.fontSize) || 0,
      font_weight: parseInt(style.fontWeight, 10) || 400,
      disabled: !!el.disabled || el.getAttribute("aria-disabled") === "true",
      fixed: style.position === "fixed" || style.position === "sticky",
    });
  }

  // ---- text blocks --------------------------------------------------------------------------------
  const blockWords = new Map();
  let totalWords = 0;
  const skip = new Set(["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "TEXTAREA", "OPTION"]);
  if (body) {
    const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
    const shownCache = new Map();
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (!parent || skip.has(parent.tagName)) continue;
      const words = countWords(node.textContent);
      if (!words) continue;
      if (!shownCache.has(parent)) shownCache.set(parent, shown(parent));
      if (!shownCache.get(parent)) continue;
      totalWords += words;
      let block = parent.closest(BLOCKS);
      if (block) {
        // Outermost block wins, so a <p> inside an <li> is counted once.
        for (let up = block.parentElement ? block.parentElement.closest(BLOCKS) : null; up;
          up = up.parentElement ? up.parentElement.closest(BLOCKS) : null) block = up;
      } else if (parent.closest(INTERACTIVE)) {
        continue;  // a control's own label is scanned during visual search (Hick), not read as body text
      } else {
        block = parent;
      }
      blockWords.set(block, (blockWords.get(block) || 0) + words);
    }
  }
  const textBlocks = [];
  for (const [el, words] of blockWords) {
    if (textBlocks.length >= opts.maxBlocks) break;
    const rect = el.getBoundingClientRect();
    if (rect.width <= 0 || rect.height <= 0) continue;
    const style = getComputedStyle(el);
    textBlocks.push({
      selector: selectorOf(el),
      tag: el.tagName.toLowerCase(),
      words,
      bbox: box(rect, sx, sy),
      font_size_px: parseFloat(style.fontSize) || 0,
    });
  }
  textBlocks.sort((a, b) => a.bbox.y - b.bbox.y || a.bbox.x - b.bbox.x);

  return {
    url: location.pathname + location.search,
    title: document.title || "",
    viewport: { width: vw, height: vh },
    scroll: { x: sx, y: sy, width: docW, height: docH },
    device_pixel_ratio: window.devicePixelRatio || 1,
    candidates,
    text_blocks: textBlocks,
    total_words: totalWords,
  };
}
