// caretickets: progressive enhancement only. Every page works without this file; with it the
// SLA chips count down, the queue answers to the keyboard, canned replies drop into the reply
// box, and the ticket page tells colleagues when you are writing.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // --- translated strings (rendered by the server into a JSON data block) -------------------
  var strings = {};
  function loadStrings() {
    var el = document.getElementById("ct-strings");
    if (el) { try { strings = JSON.parse(el.textContent); } catch (e) { strings = {}; } }
  }
  function t(key, values) {
    var text = strings[key] || key;
    return text.replace(/%\((\w+)\)(0?\d*)([sd])/g, function (_m, name, pad, kind) {
      var v = values && values[name] !== undefined ? String(values[name]) : "";
      if (kind === "d" && pad) { while (v.length < parseInt(pad, 10)) { v = "0" + v; } }
      return v;
    });
  }

  // --- SLA chips: count down from data-due without reloading --------------------------------
  function duration(minutes) {
    if (minutes < 60) return t("min", { n: minutes });
    var h = Math.floor(minutes / 60), m = minutes % 60;
    if (h < 48) return t("hm", { h: h, m: m });
    return t("dh", { d: Math.floor(h / 24), h: h % 24 });
  }
  function tickSla() {
    var now = Date.now();
    document.querySelectorAll(".sla[data-due]").forEach(function (el) {
      var secs = (Date.parse(el.dataset.due) - now) / 1000;
      var mins = Math.floor(Math.abs(secs) / 60);
      el.textContent = secs < 0 ? t("overdue", { t: duration(mins) }) : t("left", { t: duration(mins) });
      var level = secs < 0 ? "breached" : secs < 900 ? "critical" : secs < 3600 ? "warning" : "ok";
      el.classList.remove("sla-ok", "sla-warning", "sla-critical", "sla-breached");
      el.classList.add("sla-" + level);
    });
  }

  // --- live character counter for any textarea with data-limit ------------------------------
  function length(text) { return Array.from(text).length; }
  function counterFor(area) {
    var id = area.id ? area.id + "-counter" : "";
    var counter = id && document.getElementById(id);
    if (!counter) {
      counter = document.createElement("p");
      counter.className = "char-counter";
      counter.setAttribute("aria-live", "polite");
      if (id) counter.id = id;
      area.insertAdjacentElement("afterend", counter);
    }
    return counter;
  }
  function updateCounter(area) {
    var limit = parseInt(area.dataset.limit, 10);
    if (!limit) return;
    var counter = counterFor(area);
    var left = limit - length(area.value);
    counter.textContent = left >= 0 ? t("charsLeft", { n: left }) : t("charsOver", { n: -left });
    counter.classList.toggle("is-over", left < 0);
    counter.classList.toggle("is-near", left >= 0 && left < Math.min(20, limit / 10));
    area.setAttribute("aria-invalid", left < 0 ? "true" : "false");
  }
  function initCounters(root) {
    (root || document).querySelectorAll("textarea[data-limit]").forEach(updateCounter);
  }

  // --- presence: tell the poll when I am writing a reply ------------------------------------
  var writingTimer = null, lastWritingPing = 0;
  function markWriting() {
    var flag = document.getElementById("presence-writing");
    if (!flag || !window.htmx) return;
    flag.value = "1";
    var now = Date.now();
    if (now - lastWritingPing > 5000) {
      lastWritingPing = now;
      window.htmx.trigger(document.body, "presenceChanged");
    }
    clearTimeout(writingTimer);
    writingTimer = setTimeout(function () { flag.value = "0"; }, 12000);
  }
  function leaveTicket() {
    var bar = document.getElementById("presence");
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (!bar || !bar.dataset.leaveUrl || !token || !navigator.sendBeacon) return;
    var data = new FormData();
    data.append("csrfmiddlewaretoken", token.value);
    navigator.sendBeacon(bar.dataset.leaveUrl, data);
  }

  // --- canned replies: insert the server-filled text into the reply box ---------------------
  function status(text) {
    var el = document.getElementById("canned-status");
    if (el) el.textContent = text;
  }
  function insertAtCursor(area, text) {
    var start = area.selectionStart, end = area.selectionEnd, value = area.value;
    if (!value.trim()) {
      area.value = text;
    } else {
      var before = value.slice(0, start), after = value.slice(end);
      var glue = before && !/\s$/.test(before) ? " " : "";
      area.value = before + glue + text + after;
      start = (before + glue).length;
    }
    var caret = value.trim() ? start + text.length : text.length;
    area.focus();
    area.setSelectionRange(caret, caret);
    area.dispatchEvent(new Event("input", { bubbles: true }));
  }
  function insertCanned(link) {
    var area = document.getElementById("reply-body");
    if (!area) return false;
    fetch(link.href, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(String(r.status)); return r.json(); })
      .then(function (data) {
        insertAtCursor(area, data.body);
        markWriting();
        status(t("inserted", { name: data.name }));
        var picker = document.getElementById("canned-picker");
        if (picker) picker.open = false;
      })
      .catch(function () { status(t("insertFailed")); });
    return true;
  }

  // --- queue: keyboard navigation, clickable rows --------------------------------------------
  var currentId = null;
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("table.queue tbody tr[data-id]")); }
  function select(row, scroll) {
    rows().forEach(function (r) { r.classList.remove("is-current"); r.removeAttribute("aria-selected"); });
    if (!row) return;
    row.classList.add("is-current");
    row.setAttribute("aria-selected", "true");
    currentId = row.dataset.id;
    if (scroll) row.scrollIntoView({ block: "nearest" });
  }
  function move(step) {
    var all = rows();
    if (!all.length) return;
    var index = all.findIndex(function (r) { return r.dataset.id === currentId; });
    index = index < 0 ? (step > 0 ? 0 : all.length - 1) : Math.max(0, Math.min(all.length - 1, index + step));
    select(all[index], true);
  }
  function restoreSelection() {
    if (!currentId) return;
    var row = document.querySelector('table.queue tbody tr[data-id="' + currentId + '"]');
    if (row) select(row, false);
  }

  // --- focus across HTMX swaps ---------------------------------------------------------------
  // A swap replaces the element that had keyboard focus (a queue row's link on the 15-second
  // refresh, the button that claimed the ticket): the browser then drops focus on <body> and a
  // keyboard or screen-reader user starts again from the top. htmx only restores an element
  // that has an id; this puts focus back on the same control (in the same queue row), else on
  // the region's alert, its marked element or its heading.
  var lostFocus = null;
  function focusKey(el) {
    if (el.id) return "#" + CSS.escape(el.id);
    var key = el.tagName.toLowerCase();
    ["rel", "name", "value"].forEach(function (attr) {
      var v = el.getAttribute(attr);
      if (v !== null && (attr !== "value" || el.tagName === "BUTTON")) key += "[" + attr + '="' + CSS.escape(v) + '"]';
    });
    if (el.classList.length) key += "." + CSS.escape(el.classList[0]);
    return key;
  }
  function rememberFocus(region) {
    var active = document.activeElement;
    lostFocus = null;
    if (!region || !region.id || !active || active === document.body || !region.contains(active)) return;
    var row = active.closest("tr[data-id]");
    lostFocus = {
      region: region.id, key: focusKey(active), row: row ? row.dataset.id : null,
      index: row ? Array.prototype.indexOf.call(region.querySelectorAll("tr[data-id]"), row) : -1,
    };
  }
  function restoreFocus() {
    var memo = lostFocus, active = document.activeElement;
    lostFocus = null;
    if (!memo || (active && active !== document.body)) return;
    var region = document.getElementById(memo.region), el = null, row = null;
    if (!region) return;
    if (memo.row !== null) {
      var all = region.querySelectorAll("tr[data-id]");
      row = region.querySelector('tr[data-id="' + CSS.escape(memo.row) + '"]') || all[Math.min(memo.index, all.length - 1)];
      el = row ? row.querySelector(memo.key) : null;
    } else {
      el = region.querySelector(memo.key);
    }
    ['[role="alert"]', "[data-swap-focus]", "h1, h2, h3"].forEach(function (selector) {
      el = el || region.querySelector(selector);
    });
    el = el || region;
    if (!el.matches("a[href], button, input, select, textarea, [tabindex]")) el.setAttribute("tabindex", "-1");
    el.focus({ preventScroll: !!row });
  }

  // --- dialogs -------------------------------------------------------------------------------
  function openDialog(id) {
    var dialog = document.getElementById(id);
    if (dialog && typeof dialog.showModal === "function" && !dialog.open) dialog.showModal();
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (typing(e.target)) {
      if (e.key === "Escape") e.target.blur();
      return;
    }
    var dialogOpen = document.querySelector("dialog[open]");
    if (dialogOpen) return;
    var key = e.key, el;
    if (key === "?") { e.preventDefault(); openDialog("shortcuts"); return; }
    if (document.querySelector("table.queue")) {
      if (key === "j" || key === "ArrowDown" && e.shiftKey) { e.preventDefault(); move(1); return; }
      if (key === "k" || key === "ArrowUp" && e.shiftKey) { e.preventDefault(); move(-1); return; }
      if (key === "Enter" && currentId) {
        var row = document.querySelector("table.queue tr.is-current");
        if (row) { e.preventDefault(); window.location.href = row.dataset.href; }
        return;
      }
    }
    if (key === "/") {
      el = document.getElementById("q") || document.getElementById("canned-q");
      if (el) { e.preventDefault(); el.focus(); el.select(); }
      return;
    }
    if (key === "r" && (el = document.getElementById("reply-body"))) { e.preventDefault(); el.focus(); return; }
    if (key === "n" && (el = document.getElementById("note-body"))) { e.preventDefault(); el.focus(); return; }
    if (key === "c" && (el = document.getElementById("canned-picker"))) {
      e.preventDefault(); el.open = true;
      var q = document.getElementById("canned-q");
      if (q) q.focus();
      return;
    }
    if (key === "u" && (el = document.querySelector("[data-shortcut-back]"))) { e.preventDefault(); window.location.href = el.href; }
  });

  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-open-dialog]");
    if (opener) { e.preventDefault(); openDialog(opener.dataset.openDialog); return; }
    var canned = e.target.closest("a[data-canned-insert]");
    if (canned && !e.ctrlKey && !e.metaKey && !e.shiftKey) {
      if (insertCanned(canned)) e.preventDefault();
      return;
    }
    var row = e.target.closest("table.queue tbody tr[data-href]");
    if (row && !e.target.closest("a, button, input, select, label")) {
      if (e.ctrlKey || e.metaKey) { window.open(row.dataset.href, "_blank", "noopener"); } else { window.location.href = row.dataset.href; }
    }
  });

  document.addEventListener("input", function (e) {
    if (e.target.matches && e.target.matches("textarea[data-limit]")) updateCounter(e.target);
    // Only the agent's own typing counts; scripts re-dispatch "input" to refresh counters.
    if (e.target.id === "reply-body" && e.isTrusted) markWriting();
  });

  document.addEventListener("change", function (e) {
    var form = e.target.form;
    if (form && form.hasAttribute("data-autosubmit")) form.submit();
  });

  // htmx swaps only 2xx by default; our 400/403/409 answers carry a panel that explains why.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var code = e.detail.xhr.status;
    if (code === 400 || code === 403 || code === 409) { e.detail.shouldSwap = true; e.detail.isError = false; }
    if (e.detail.shouldSwap) rememberFocus(e.detail.target);
  });
  document.addEventListener("htmx:afterSettle", restoreFocus);
  document.addEventListener("htmx:afterSwap", function (e) {
    tickSla();
    initCounters(e.target);
    restoreSelection();
  });

  window.addEventListener("pagehide", leaveTicket);

  document.addEventListener("DOMContentLoaded", function () {
    loadStrings();
    tickSla();
    initCounters();
    setInterval(tickSla, 15000);
    var first = rows()[0];
    if (first && !currentId) select(first, false);
    // On a narrow screen the filters fold away unless some are in use.
    var filters = document.querySelector(".rail .filters");
    if (filters && window.matchMedia("(max-width: 1000px)").matches && !filters.querySelector(".count-pill")) {
      filters.open = false;
    }
  });
})();
