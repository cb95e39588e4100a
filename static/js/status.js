/*
 * Tra: small page behaviours for the request pages. Loaded with <script src defer>; the
 * pages work without it.
 *
 * 1. Error summary: move focus to it, so that screen-reader and keyboard users land on
 *    the list of problems (the element also has autofocus for browsers that honour it).
 * 2. Live request status: on the status page, poll data-status-url (requests.status_json,
 *    {"status": ..., "finished": bool}) every second, show the new status in the
 *    aria-live region using the data-label-<status> texts written by the template, and
 *    reload the page once the request is finished (ready or failed). A status with no step
 *    of its own (e.g. "waiting": a retry of the agency's registry is due) marks the step
 *    named by data-step-of-<status>; entering or leaving "waiting" reloads the page, which
 *    then explains the wait and when the next try is due. Polling slows down after two
 *    minutes and backs off on errors.
 */
(function () {
  "use strict";

  var summary = document.querySelector('[data-module="error-summary"]');
  if (summary && document.activeElement !== summary) {
    summary.focus();
  }

  var box = document.querySelector('[data-module="request-status"]');
  if (!box || !window.fetch) {
    return;
  }

  var url = box.getAttribute("data-status-url");
  var label = box.querySelector("[data-status-label]");
  var errorEl = box.querySelector("[data-status-error]");
  var steps = box.querySelectorAll("[data-step]");
  var current = box.getAttribute("data-status");
  var started = Date.now();
  var failures = 0;
  var stopped = false;

  function text(status) {
    return box.getAttribute("data-label-" + status) || status;
  }

  function show(status) {
    if (!status || status === current) {
      return;
    }
    if (status === "waiting" || current === "waiting") {
      // Waiting for a retry (or no longer): the page explains why and when; show it afresh.
      stopped = true;
      window.location.reload();
      return;
    }
    current = status;
    if (label) {
      label.textContent = text(status);
    }
    var step = box.getAttribute("data-step-of-" + status) || status;
    var index = -1;
    for (var i = 0; i < steps.length; i++) {
      if (steps[i].getAttribute("data-step") === step) {
        index = i;
      }
    }
    if (index < 0) {
      return;
    }
    for (var j = 0; j < steps.length; j++) {
      var item = steps[j];
      item.classList.toggle("steps__item--done", j < index);
      item.classList.toggle("steps__item--current", j === index);
      if (j === index) {
        item.setAttribute("aria-current", "step");
      } else {
        item.removeAttribute("aria-current");
      }
    }
  }

  function delay() {
    var elapsed = Date.now() - started;
    var base = elapsed < 120000 ? 1000 : elapsed < 600000 ? 5000 : 15000;
    if (failures > 0) {
      base = Math.min(base * Math.pow(2, failures), 30000);
    }
    return base;
  }

  function schedule() {
    if (!stopped) {
      window.setTimeout(poll, delay());
    }
  }

  function fail() {
    failures += 1;
    if (failures >= 3 && errorEl) {
      errorEl.textContent = box.getAttribute("data-label-error") || "";
      errorEl.hidden = false;
    }
    schedule();
  }

  function poll() {
    window
      .fetch(url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
        redirect: "manual"
      })
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 401) {
          // Logged out meanwhile: reloading lets the page send the person to log in.
          stopped = true;
          window.location.reload();
          return null;
        }
        if (response.status === 403 || response.status === 404) {
          stopped = true;
          return null;
        }
        if (!response.ok) {
          throw new Error("status " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        if (!data) {
          return;
        }
        failures = 0;
        if (errorEl) {
          errorEl.hidden = true;
        }
        show(data.status);
        if (data.finished) {
          stopped = true;
          window.location.reload();
          return;
        }
        schedule();
      })
      .catch(fail);
  }

  schedule();
})();
