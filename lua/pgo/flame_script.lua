-- pgo.flame_script: the script inside pgolua's SVG flame graphs (lua/pgo/flame.lua puts it
-- in a CDATA section). It reads its settings from the JSON element #pgo-config and the
-- frames from <g id="frames">: each frame a <g> holding <title> (full name, newline, the
-- hover text), <rect> and an optional <text> label. Click zooms, "Search" or Ctrl-F
-- highlights names matching a regexp with the share they cover, Esc resets. The address
-- may carry #s=REGEXP&zoom=NAME; window.pgoflame offers search, clear, zoom and reset.
return [==[
(function () {
  "use strict";
  var C = JSON.parse(document.getElementById("pgo-config").textContent);
  var doc = document, svg = doc.documentElement;
  var full = C.width - 2 * C.pad;
  function el(id) { return doc.getElementById(id); }
  function shortName(n) {
    var head = n.slice(0, (n.search(/[\[(]/) + 1 || n.length + 1) - 1), s = head.lastIndexOf("/");
    return s < 0 ? n : n.slice(s + 1);
  }
  var frames = [].map.call(doc.querySelectorAll("#frames > g"), function (g) {
    var r = g.getElementsByTagName("rect")[0], t = g.getElementsByTagName("title")[0].textContent;
    var nl = t.indexOf("\n");
    return { g: g, r: r, t: g.getElementsByTagName("text")[0], x: +r.getAttribute("x"),
      w: +r.getAttribute("width"), y: +r.getAttribute("y"), fill: r.getAttribute("fill"),
      name: nl < 0 ? t : t.slice(0, nl), info: t };
  });
  var zoomed = null, matched = null;
  function label(f, x, w) {
    var max = Math.floor((w - 6) / C.charw), s = shortName(f.name);
    if (max < 3) { if (f.t) f.t.textContent = ""; return; }
    if (s.length > max) s = s.slice(0, max - 2) + "..";
    if (!f.t) {
      f.t = doc.createElementNS("http://www.w3.org/2000/svg", "text");
      f.t.setAttribute("y", f.y + C.fh - 4.5);
      f.g.appendChild(f.t);
    }
    f.t.setAttribute("x", (x + 3).toFixed(2));
    f.t.textContent = s;
  }
  function place(f, x, w, visible, faded) {
    f.g.style.display = visible ? "" : "none";
    if (!visible) return;
    f.r.setAttribute("x", x.toFixed(2));
    f.r.setAttribute("width", w.toFixed(2));
    f.g.classList.toggle("faded", !!faded);
    label(f, x, w);
  }
  // Below z in the drawing: nearer the root (an ancestor when it spans z).
  function nearerRoot(f, z) { return C.icicle ? f.y < z.y : f.y > z.y; }
  function zoom(z) {
    var eps = 0.01, scale = full / z.w;
    zoomed = z;
    frames.forEach(function (f) {
      var inside = f.x >= z.x - eps && f.x + f.w <= z.x + z.w + eps;
      if (nearerRoot(f, z)) {
        place(f, C.pad, full, f.x <= z.x + eps && f.x + f.w >= z.x + z.w - eps, true);
      } else {
        place(f, C.pad + (f.x - z.x) * scale, f.w * scale, inside, false);
      }
    });
    el("reset").style.display = "";
  }
  function reset() {
    zoomed = null;
    frames.forEach(function (f) { place(f, f.x, f.w, true, false); });
    el("reset").style.display = "none";
  }
  function clearSearch() {
    matched = null;
    frames.forEach(function (f) { f.r.setAttribute("fill", f.fill); });
    el("matched").textContent = "";
    el("clear").style.display = "none";
  }
  // Highlights the frames whose full name matches the regexp; the matched share counts
  // every sample once however many matching frames its stack holds (union of spans).
  function search(re) {
    var rx;
    try { rx = new RegExp(re); } catch (e) { el("matched").textContent = "bad regexp: " + re; return; }
    var spans = [];
    frames.forEach(function (f) {
      var hit = rx.test(f.name);
      f.r.setAttribute("fill", hit ? C.match : f.fill);
      if (hit) spans.push([f.x, f.x + f.w]);
    });
    spans.sort(function (a, b) { return a[0] - b[0]; });
    var sum = 0, end = -Infinity;
    spans.forEach(function (s) {
      if (s[1] <= end) return;
      sum += s[1] - Math.max(s[0], end);
      end = s[1];
    });
    matched = re;
    el("matched").textContent = "Matched " + JSON.stringify(re) + ": " + spans.length +
      " frames, " + (100 * sum / full).toFixed(2) + "% of the total";
    el("clear").style.display = "";
  }
  function frameOf(node) {
    while (node && node.parentNode && node.parentNode.id !== "frames") node = node.parentNode;
    for (var i = 0; node && i < frames.length; i++) if (frames[i].g === node) return frames[i];
    return null;
  }
  el("frames").addEventListener("click", function (e) {
    var f = frameOf(e.target);
    if (f) zoom(f);
  });
  el("frames").addEventListener("mouseover", function (e) {
    var f = frameOf(e.target);
    if (!f) return;
    var text = f.info.replace(/\n/g, "; ");
    if (zoomed && zoomed !== f && !nearerRoot(f, zoomed))
      text += "; " + (100 * f.w / zoomed.w).toFixed(2) + "% of " + shortName(zoomed.name);
    var room = Math.floor((full - el("matched").textContent.length * C.charw) / C.charw) - 4;
    el("details").textContent = text.length > room ? text.slice(0, Math.max(room - 2, 0)) + ".." : text;
  });
  el("frames").addEventListener("mouseout", function () { el("details").textContent = ""; });
  el("reset").addEventListener("click", reset);
  el("clear").addEventListener("click", clearSearch);
  el("search").addEventListener("click", function () {
    var re = window.prompt("Search function names (regular expression)", matched || "");
    if (re) search(re);
  });
  doc.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "f") { e.preventDefault(); el("search").dispatchEvent(new MouseEvent("click")); }
    if (e.key === "Escape") { reset(); clearSearch(); }
  });
  function byName(name) {
    for (var i = 0; i < frames.length; i++) if (frames[i].name === name) return frames[i];
    return null;
  }
  // #s=REGEXP&zoom=NAME in the address (or ?s=...): a search and a zoom to show at once.
  var params = new URLSearchParams(location.hash.slice(1) || location.search.slice(1));
  if (params.get("zoom") && byName(params.get("zoom"))) zoom(byName(params.get("zoom")));
  if (params.get("s")) search(params.get("s"));
  // A flame graph grows upwards from its root: when it is taller than the window it is
  // shrunk to fit (down to 60%), else opened scrolled to the bottom, the header pinned
  // to the top of the window.
  var height = +svg.getAttribute("height"), fit = window.innerHeight / height;
  if (!C.icicle && fit < 1 && fit >= 0.6) {
    svg.setAttribute("width", Math.floor(C.width * fit));
    svg.setAttribute("height", Math.floor(height * fit));
  } else if (!C.icicle && fit < 1) {
    var pin = function () {
      el("header").setAttribute("transform", "translate(0," + window.scrollY + ")");
    };
    window.addEventListener("scroll", pin);
    window.scrollTo(0, height);
    pin();
  }
  window.pgoflame = { search: search, clear: clearSearch, zoom: function (name) {
    var f = byName(name); if (f) zoom(f); return !!f; }, reset: reset };
})();
]==]
