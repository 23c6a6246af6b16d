// The DOM helpers every page script shares (me.js, ops.js and rft-local's demo.js), loaded
// before them: `$` finds an element by id; `el` builds one from attributes (`text` and
// `className` are properties, the rest attributes) and children (nodes or strings; empty ones
// are skipped, so `cond && node` can be passed).
var RftDom = (function () {
  'use strict';

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'className') node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) {
      if (!c) return;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }

  return { $: $, el: el };
})();
