// The admin console's only script (the CSP allows no inline script): validation as you type in
// the policy editor. It posts the edited files to the JSON check endpoint with the page's CSRF
// token, 600 ms after the last keystroke, and shows each error under its file and at its line.
"use strict";
(function () {
  const form = document.getElementById("editor");
  if (!form) return;
  const prefix = document.querySelector('meta[name="console-prefix"]').content;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const areas = Array.from(form.querySelectorAll("textarea[data-file]"));
  const status = document.getElementById("live-status");
  let timer = null;
  let sequence = 0;

  function gutter(area, marked) {
    const lines = area.value.split("\n").length;
    const pre = document.getElementById("gutter-" + area.dataset.index);
    pre.textContent = "";
    for (let line = 1; line <= lines; line++) {
      const span = document.createElement("span");
      span.textContent = String(line);
      if (marked.has(line)) span.className = "mark";
      pre.appendChild(span);
      pre.appendChild(document.createTextNode("\n"));
    }
    area.style.height = (lines * 18 + 16) + "px";
  }

  function show(findings) {
    for (const area of areas) {
      const list = document.getElementById("errors-" + area.dataset.index);
      list.textContent = "";
      const mine = findings.filter((f) => f.file === area.dataset.file || f.file.endsWith("/" + area.dataset.file));
      for (const finding of mine) {
        const item = document.createElement("li");
        item.className = "finding " + finding.kind;
        item.dataset.line = String(finding.line);
        const where = document.createElement("span");
        where.className = "where";
        where.textContent = "line " + finding.line + ", column " + finding.column;
        item.appendChild(where);
        item.appendChild(document.createTextNode((finding.policy ? finding.policy + ": " : "") + finding.message));
        list.appendChild(item);
      }
      gutter(area, new Set(mine.filter((f) => f.kind === "error").map((f) => f.line)));
    }
  }

  async function check() {
    const mine = ++sequence;
    const files = {};
    for (const area of areas) files[area.dataset.file] = area.value;
    status.textContent = "checking…";
    try {
      const response = await fetch(prefix + "policies/check", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ base: Number(form.dataset.base), files: files }),
      });
      const answer = await response.json();
      if (mine !== sequence) return;
      if (!answer.report) {
        status.textContent = answer.error || "the check failed";
        return;
      }
      const findings = answer.report.errors.map((f) => Object.assign({ kind: "error" }, f))
        .concat(answer.report.warnings.map((f) => Object.assign({ kind: "warning" }, f)));
      show(findings);
      const failures = answer.report.tests.failures.length;
      status.textContent = answer.report.errors.length > 0
        ? answer.report.errors.length + " error(s)"
        : failures > 0 ? failures + " failing test(s)" : "valid; " + answer.report.tests.cases + " test cases pass";
      status.className = "status " + (answer.passed ? "ok" : "bad");
    } catch (error) {
      if (mine === sequence) status.textContent = "the check could not run: " + error;
    }
  }

  for (const area of areas) {
    gutter(area, new Set());
    area.addEventListener("input", () => {
      gutter(area, new Set());
      clearTimeout(timer);
      timer = setTimeout(check, 600);
    });
  }
})();
