/* Live updates for a book page that is still being made: poll the status document, update the
   progress bar and each page in place, and reload once when the book reaches a final state so the
   downloads and the retry button appear. No framework, no build step. */
(function () {
  "use strict";

  var card = document.querySelector("[data-status-url]");
  if (!card) return;
  var FINAL = { completed: true, failed: true };
  if (FINAL[card.dataset.status]) return;

  var BOOK_LABELS = { pending: "Waiting", processing: "In progress", completed: "Completed", failed: "Failed" };
  var PAGE_LABELS = { pending: "Waiting", processing: "Drawing", completed: "Done", failed: "Failed" };
  var INTERVAL_MS = 1000;
  var MAX_INTERVAL_MS = 15000;
  var url = card.dataset.statusUrl;
  var failures = 0;

  function setText(selector, text) {
    var element = document.querySelector(selector);
    if (element && element.textContent !== text) element.textContent = text;
  }

  function updatePage(page) {
    var item = document.querySelector('[data-page="' + page.number + '"]');
    var image = page.image;
    if (!item || !image) return;
    item.dataset.state = image.status;
    var badge = item.querySelector("[data-page-badge]");
    if (badge) {
      badge.className = "badge badge-page-" + image.status;
      badge.textContent = PAGE_LABELS[image.status] || image.status;
    }
    var thumb = item.querySelector("[data-thumb]");
    if (thumb && image.thumbnail_url && !thumb.querySelector("img")) {
      var img = document.createElement("img");
      img.src = image.thumbnail_url;
      img.alt = "Illustration for page " + page.number;
      img.width = 240;
      img.height = 320;
      thumb.replaceChildren(img);
    } else if (thumb && image.status === "failed" && !thumb.querySelector("img")) {
      var placeholder = thumb.querySelector(".placeholder");
      if (placeholder) placeholder.textContent = "No illustration";
    }
    var error = item.querySelector("[data-page-error]");
    if (error) {
      error.textContent = image.error || "";
      error.hidden = !(image.status === "failed" && image.error);
    }
  }

  function update(doc) {
    var badge = document.querySelector("[data-book-status]");
    if (badge) {
      badge.className = "badge badge-" + doc.status;
      badge.textContent = BOOK_LABELS[doc.status] || doc.status;
    }
    setText("[data-progress-text]", doc.progress || "—");
    setText("[data-images-done]", String(doc.images_done));
    setText("[data-images-total]", String(doc.images_total));
    var bar = document.querySelector("[data-progress-bar]");
    if (bar) {
      bar.setAttribute("aria-valuenow", String(doc.images_done));
      bar.setAttribute("aria-valuemax", String(doc.images_total));
      var percent = doc.images_total ? Math.round((100 * doc.images_done) / doc.images_total) : 0;
      bar.firstElementChild.style.width = percent + "%";
    }
    doc.pages.forEach(updatePage);
  }

  function schedule() {
    var delay = Math.min(INTERVAL_MS * Math.pow(2, failures), MAX_INTERVAL_MS);
    window.setTimeout(poll, delay);
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (doc) {
        failures = 0;
        update(doc);
        if (FINAL[doc.status]) {
          // The finished page carries server-rendered parts (downloads, retry button): fetch it once.
          window.location.reload();
          return;
        }
        schedule();
      })
      .catch(function () {
        // A signed-out session or a server restart: back off instead of hammering the server.
        failures += 1;
        schedule();
      });
  }

  schedule();
})();
