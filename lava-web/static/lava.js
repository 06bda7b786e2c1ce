// LAVA web UI: times in the viewer's time zone. Pages work without it.
(function () {
  "use strict";
  function localTimes(root) {
    for (const t of (root || document).querySelectorAll("time[datetime]")) {
      const utc = t.getAttribute("datetime");
      const d = new Date(utc);
      if (!isNaN(d.getTime())) {
        t.textContent = d.toLocaleString(undefined, {
          year: "numeric", month: "short", day: "numeric",
          hour: "2-digit", minute: "2-digit", second: "2-digit",
        });
        t.title = utc + " (UTC)";
      }
    }
  }
  window.lavaLocalTimes = localTimes;
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
})();
