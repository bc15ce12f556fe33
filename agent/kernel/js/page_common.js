  // uiab page common: spliced into the tracker and the persona snapshot, so both name elements alike.
  // What counts as interactive: a click on one of these is an interactive click, anything else a misclick.
  const INTERACTIVE = "a[href], button, input, select, textarea, summary, label, [role=button], " +
    "[role=link], [role=checkbox], [role=tab], [onclick]";

  // A short, stable CSS path: the nearest id, else tag:nth-of-type steps (at most 5). The persona's
  // Decision.selector and the tracker's click selector are then the same string for the same element.
  function selectorOf(el) {
    if (!(el instanceof Element)) return "";
    const parts = [];
    for (let node = el; node && node.nodeType === 1 && parts.length < 5; node = node.parentElement) {
      if (node.id) { parts.unshift("#" + CSS.escape(node.id)); break; }
      const tag = node.tagName.toLowerCase();
      if (tag === "html" || tag === "body") { parts.unshift(tag); break; }
      let index = 1;
      for (let sib = node.previousElementSibling; sib; sib = sib.previousElementSibling) {
        if (sib.tagName === node.tagName) index++;
      }
      parts.unshift(`${tag}:nth-of-type(${index})`);
    }
    return parts.join(" > ");
  }
