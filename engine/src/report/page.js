// The report's only script: tooltips over evaluated cells and legend buttons that turn a
// chart's series on and off. The page reads fully without it (and prints without it).
(function () {
  "use strict";
  var tip = document.getElementById("tip");
  var texts = {};
  function group(el) {
    var g = el.parentNode;
    return g && g.getAttribute && g.hasAttribute("data-tips") ? g : null;
  }
  function tipsOf(g) {
    var id = g.getAttribute("data-tips");
    if (!texts[id]) texts[id] = JSON.parse(document.getElementById(id).textContent);
    return texts[id];
  }
  document.addEventListener("mouseover", function (e) {
    var g = group(e.target);
    if (!g) return;
    var i = Array.prototype.indexOf.call(g.children, e.target);
    tip.textContent = tipsOf(g)[i];
    tip.hidden = false;
    var r = e.target.getBoundingClientRect();
    var left = r.right + window.scrollX + 10;
    if (left + tip.offsetWidth > window.scrollX + document.documentElement.clientWidth) {
      left = Math.max(window.scrollX, r.left + window.scrollX - tip.offsetWidth - 10);
    }
    tip.style.left = left + "px";
    tip.style.top = (r.top + window.scrollY - 10) + "px";
    e.target.classList.add("hover");
  });
  document.addEventListener("mouseout", function (e) {
    if (!group(e.target)) return;
    tip.hidden = true;
    e.target.classList.remove("hover");
  });
  document.addEventListener("click", function (e) {
    var b = e.target.closest ? e.target.closest("button[data-chart]") : null;
    if (!b) return;
    var on = b.getAttribute("aria-pressed") !== "true";
    b.setAttribute("aria-pressed", on ? "true" : "false");
    var g = document.querySelector("#" + b.getAttribute("data-chart") +
      " g[data-s=\"" + b.getAttribute("data-s") + "\"]");
    if (g) g.style.display = on ? "" : "none";
  });
})();
