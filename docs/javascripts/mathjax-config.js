// MathJax 3 for pymdownx.arithmatex (generic mode): the page's \( \) and \[ \] spans.
// MathJax itself is vendored in docs/javascripts/mathjax (the npm package mathjax
// 3.2.2, es5/tex-svg.js, which draws glyphs as SVG paths and so needs no font files;
// Apache-2.0, LICENSE beside it), so the site renders mathematics without a network.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
    tags: "none"
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex"
  }
};

// Material's instant navigation swaps pages without reloading: typeset each new one.
if (typeof document$ !== "undefined") {
  document$.subscribe(() => {
    if (window.MathJax && MathJax.typesetPromise) {
      MathJax.startup.output.clearCache();
      MathJax.typesetClear();
      MathJax.texReset();
      MathJax.typesetPromise();
    }
  });
}
