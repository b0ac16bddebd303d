// predport report: class and score filters, ground-truth toggle, full-size view. No network, no library.
(function () {
  "use strict";
  var all = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };
  var thr = document.getElementById("thr"), thrv = document.getElementById("thrv");
  var grid = document.getElementById("frames");

  function apply() {
    var on = {};
    all("input.cls").forEach(function (el) { on[el.dataset.c] = el.checked; });
    var t = thr ? parseFloat(thr.value) : -Infinity, shown = 0;
    all("g.p").forEach(function (g) {
      var s = g.getAttribute("data-s");
      var ok = on[g.dataset.c] !== false && (s === null || parseFloat(s) >= t);
      g.classList.toggle("off", !ok);
      if (ok && grid && grid.contains(g)) shown++;
    });
    all("g.g").forEach(function (g) { g.classList.toggle("off", on[g.dataset.c] === false); });
    if (thrv) thrv.textContent = thr.value;
    var out = document.getElementById("shown");
    if (out) out.textContent = String(shown);
  }

  all("input.cls").forEach(function (el) { el.addEventListener("change", apply); });
  if (thr) thr.addEventListener("input", apply);
  var gt = document.getElementById("showgt");
  if (gt) gt.addEventListener("change", function () { document.body.classList.toggle("nogt", !gt.checked); });
  all("button[data-all]").forEach(function (b) {
    b.addEventListener("click", function () {
      var v = b.dataset.all === "1";
      all("input.cls").forEach(function (el) { el.checked = v; });
      apply();
    });
  });

  var dlg = document.getElementById("big");
  function open(fig) {
    var frame = fig.querySelector(".frame").cloneNode(true);
    var bar = document.createElement("div");
    bar.className = "bar";
    bar.innerHTML = fig.querySelector("figcaption").innerHTML;
    var orig = fig.getAttribute("data-src");
    if (orig) {
      var a = document.createElement("a");
      a.href = orig; a.textContent = "original image"; a.target = "_blank"; a.rel = "noopener";
      bar.appendChild(a);
    }
    dlg.innerHTML = "";
    dlg.appendChild(frame);
    dlg.appendChild(bar);
    frame.style.setProperty("--full-w", fig.getAttribute("data-w") + "px");
    frame.addEventListener("click", function () { dlg.close(); });
    dlg.showModal();
  }
  all("figure.fr .frame").forEach(function (f) {
    f.addEventListener("click", function () { open(f.parentNode); });
  });
  if (dlg) dlg.addEventListener("click", function (e) { if (e.target === dlg) dlg.close(); });
  apply();
})();
