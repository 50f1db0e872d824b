// Finds what makes a page scroll sideways or cuts a table off: the document wider than the
// window, a box (table, card, chart, dialog, ...) whose content is wider than the box, and a
// visible element reaching past the window's edges. Returns one line per problem.

/// Boxes that must hold their content: scrolling one sideways hides columns behind a scrollbar.
const BOXES = [
  '.topbar', '.public-bar', '.content', '.login-wrap', 'section', '.card', '.columns', '.grid',
  '.table-wrap', 'table', '.chart', '.filters', '.modal', '.modal-body', 'form', 'fieldset',
  'ul', 'dl',
].join(',');

export async function overflowProblems(page) {
  return page.evaluate((boxes) => {
    const problems = [];
    const name = (el) => {
      const test = el.getAttribute('data-testid');
      const cls = typeof el.className === 'string' && el.className.trim() ? `.${el.className.trim().split(/\s+/).join('.')}` : '';
      const text = (el.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 40);
      return `<${el.tagName.toLowerCase()}${cls}${test ? ` data-testid=${test}` : ''}> "${text}"`;
    };
    const shown = (el) => {
      if (!el.getClientRects().length) return false;
      const style = getComputedStyle(el);
      return style.visibility !== 'hidden' && style.display !== 'none';
    };
    const doc = document.documentElement;
    if (doc.scrollWidth > doc.clientWidth + 1) {
      problems.push(`the document is ${doc.scrollWidth}px wide in a ${doc.clientWidth}px window`);
    }
    const overflowing = [];
    for (const el of document.querySelectorAll(boxes)) {
      if (!shown(el) || el.classList.contains('sr-only')) continue;
      if (el.scrollWidth > el.clientWidth + 1) overflowing.push(el);
    }
    // Report the innermost box only: its ancestors overflow because of it.
    for (const el of overflowing) {
      if (overflowing.some((other) => other !== el && el.contains(other))) continue;
      problems.push(`${name(el)} holds ${el.scrollWidth}px of content in ${el.clientWidth}px`);
    }
    // Anything visible past the window's edges is cut off or needs a sideways scroll.
    const width = doc.clientWidth;
    const outside = [];
    for (const el of document.body.querySelectorAll('*')) {
      if (!shown(el) || el.closest('.sr-only')) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.right > width + 1 || r.left < -1) outside.push(el);
    }
    for (const el of outside) {
      if (outside.some((other) => other !== el && other.contains(el))) continue;
      const r = el.getBoundingClientRect();
      problems.push(`${name(el)} spans ${Math.round(r.left)}..${Math.round(r.right)}px of a ${width}px window`);
    }
    return problems;
  }, BOXES);
}
