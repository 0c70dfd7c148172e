// Live "would match N buckets" preview on the KB form; the form works without it (Preview button).
(function () {
  var form = document.getElementById("kbform"), out = document.getElementById("kb-preview");
  if (!form || !out || !window.fetch) return;
  var timer = null;
  function run() {
    var data = new FormData(form); data.set("fragment", "1");
    fetch("/ui/kb/preview", { method: "POST", body: data, credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) { var d = new DOMParser().parseFromString(html, "text/html"); out.textContent = d.body.textContent; });
  }
  form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 300); });
})();

// A "Copy" button on each finding's command; without script (or clipboard) the block is still
// plain selectable text.
(function () {
  if (!navigator.clipboard) return;
  document.querySelectorAll("pre.cmd[data-copy]").forEach(function (pre) {
    var b = document.createElement("button");
    b.type = "button"; b.className = "copy"; b.textContent = pre.dataset.copy;
    b.addEventListener("click", function () {
      navigator.clipboard.writeText(pre.querySelector("code").textContent).then(function () {
        b.textContent = pre.dataset.copied;
        setTimeout(function () { b.textContent = pre.dataset.copy; }, 1500);
      });
    });
    pre.appendChild(b);
  });
})();
