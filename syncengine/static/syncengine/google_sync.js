// The Google sync settings: the filter boxes apply only under the "sync filters" rule, so
// they are disabled (and say why) under the other rules. The server ignores them there too.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  const form = document.getElementById("google-sync-form");
  if (!form) return;
  const filterBoxes = form.querySelectorAll('input[name="filters"]');
  const filterRow = form.querySelector(".form-row.field-filters");

  function applyRule() {
    const chosen = form.querySelector('input[name="sync_rule"]:checked');
    const applies = Boolean(chosen) && chosen.value === "filters";
    for (const box of filterBoxes) box.disabled = !applies;
    if (filterRow) filterRow.classList.toggle("filters-off", !applies);
  }

  for (const radio of form.querySelectorAll('input[name="sync_rule"]')) {
    radio.addEventListener("change", applyRule);
  }
  applyRule();
});
