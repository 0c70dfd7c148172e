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
