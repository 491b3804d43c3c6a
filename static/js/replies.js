// caretickets replies: progressive enhancement for the composer, the approval queue and the
// department pages. Every form here also works as a plain POST without this file.
(function () {
  "use strict";

  // Refusals (4xx) and network trouble (502) come back as panels that explain why: show them.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var code = e.detail.xhr.status;
    var inReplies = e.detail.target && e.detail.target.closest && e.detail.target.closest("[data-replies]");
    if (inReplies && ((code >= 400 && code < 500) || code === 502)) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  // Destructive buttons ask first (the server acts either way on a plain POST).
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) e.preventDefault();
  });

  // --- composer: the network's length limit applies to public replies only ----------------
  function syncLimit(form) {
    var area = form.querySelector("#reply-body");
    if (!area) return;
    if (area.dataset.publicLimit === undefined) area.dataset.publicLimit = area.dataset.limit || "";
    var checked = form.querySelector("input[name=visibility]:checked");
    var isPublic = !checked || checked.value === "public";
    var counter = document.getElementById("reply-body-counter");
    if (isPublic && area.dataset.publicLimit) {
      area.dataset.limit = area.dataset.publicLimit;
      area.dispatchEvent(new Event("input", { bubbles: true }));
    } else {
      delete area.dataset.limit;
      area.setAttribute("aria-invalid", "false");
      if (counter) { counter.textContent = ""; counter.className = "char-counter"; }
    }
  }
  function initComposer(root) {
    var form = (root || document).querySelector ? (root || document).querySelector("#reply-form") : null;
    if (!form && root && root.id === "reply-form") form = root;
    if (form) syncLimit(form);
  }
  document.addEventListener("change", function (e) {
    if (e.target.name === "visibility" && e.target.form) syncLimit(e.target.form);
  });
  // Text that arrives without a key press (a canned reply dropped in, a mouse paste) is
  // checked too: the box's hx-trigger listens for keyup.
  function recheck(area) {
    if (window.htmx) setTimeout(function () { window.htmx.trigger(area, "keyup"); }, 0);
  }
  document.addEventListener("input", function (e) {
    if (e.target.id === "reply-body" && !e.isTrusted) recheck(e.target);
  });
  document.addEventListener("paste", function (e) {
    if (e.target.id === "reply-body") recheck(e.target);
  });
  // Ctrl/Cmd+Enter sends from the reply box.
  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.id === "reply-body") {
      var send = document.getElementById("reply-send");
      if (send) { e.preventDefault(); send.click(); }
    }
  });

  // --- approval queue: j / k move, a approves, e edits, r rejects ---------------------------
  function items() { return Array.prototype.slice.call(document.querySelectorAll("[data-approval]")); }
  function current() {
    var active = document.activeElement;
    var item = active && active.closest ? active.closest("[data-approval]") : null;
    return item || document.querySelector("[data-approval].is-current");
  }
  function focusItem(item) {
    items().forEach(function (i) { i.classList.remove("is-current"); });
    if (!item) return;
    item.classList.add("is-current");
    item.focus({ preventScroll: true });
    item.scrollIntoView({ block: "nearest" });
  }
  function moveItem(step) {
    var all = items();
    if (!all.length) return;
    var index = all.indexOf(current());
    index = index < 0 ? 0 : Math.max(0, Math.min(all.length - 1, index + step));
    focusItem(all[index]);
  }
  function openPanel(item, name) {
    var panel = item.querySelector('details[data-action="' + name + '"]');
    if (!panel) return false;
    item.querySelectorAll("details[data-action]").forEach(function (d) { if (d !== panel) d.open = false; });
    panel.open = true;
    var field = panel.querySelector("textarea");
    if (field) {
      field.focus();
      if (name === "edit") field.setSelectionRange(field.value.length, field.value.length);
    }
    return true;
  }
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  document.addEventListener("keydown", function (e) {
    if (!document.querySelector("[data-keyboard-list]")) return;
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target) || document.querySelector("dialog[open]")) return;
    var item = current();
    if (e.key === "j") { e.preventDefault(); moveItem(1); return; }
    if (e.key === "k") { e.preventDefault(); moveItem(-1); return; }
    if (!item) return;
    if (e.key === "a") {
      var approve = item.querySelector('[data-action="approve"]');
      if (approve) { e.preventDefault(); approve.click(); }
    } else if (e.key === "e") {
      if (openPanel(item, "edit")) e.preventDefault();
    } else if (e.key === "r") {
      if (openPanel(item, "reject")) { e.preventDefault(); e.stopImmediatePropagation(); }
    }
  }, true);
  document.addEventListener("focusin", function (e) {
    var item = e.target.closest && e.target.closest("[data-approval]");
    if (item) {
      items().forEach(function (i) { i.classList.toggle("is-current", i === item); });
    }
  });
  // After a decision, carry on with the next reply that still waits.
  document.addEventListener("htmx:afterSwap", function (e) {
    initComposer(e.target);
    var decided = e.target.matches && e.target.matches("[data-approval].is-done") ? e.target : null;
    if (!decided) return;
    var all = items(), index = all.indexOf(decided);
    for (var i = index + 1; i < all.length; i++) {
      if (!all[i].classList.contains("is-done")) { focusItem(all[i]); return; }
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    initComposer(document);
    if (document.querySelector("[data-keyboard-list]")) {
      var first = items()[0];
      if (first) first.classList.add("is-current");
    }
  });
})();
