// The property form: show the sections of the chosen type, and narrow a sync property's
// choices to its source object type. The server checks the same on save; this only guides.
"use strict";
(function () {
  const OPTION_TYPES = ["enumeration", "multiselect"];
  const SYNC_TYPE = "property_sync";

  function show(element, visible) {
    // style, not the hidden attribute: the admin's stylesheets set display on these rows
    if (element) element.style.display = visible ? "" : "none";
  }

  function rowOf(name) {
    return document.querySelector(".form-row.field-" + name);
  }

  function applyType() {
    const typeSelect = document.getElementById("id_type");
    if (!typeSelect) return; // a saved property's type is fixed; the server shows its sections
    const type = typeSelect.value;
    const isSync = type === SYNC_TYPE;
    show(document.querySelector("fieldset.property-sync"), isSync);
    show(document.getElementById("options-group"), OPTION_TYPES.includes(type));
    show(document.querySelector("fieldset.property-access"), !isSync);
    show(rowOf("unique"), !isSync);
    show(rowOf("read_only"), !isSync);
  }

  function targetType(sourceSelect) {
    const objectType = document.getElementById("id_object_type");
    return (objectType && objectType.value) || sourceSelect.dataset.targetType || "";
  }

  function applySource() {
    const sourceSelect = document.getElementById("id_sync_source_object_type");
    const propertySelect = document.getElementById("id_sync_source_property");
    if (!sourceSelect || !propertySelect) return;
    const source = sourceSelect.value;
    const target = targetType(sourceSelect);
    for (const option of propertySelect.options) {
      if (!option.value) continue;
      const fits = option.dataset.objectType === source;
      option.hidden = !fits;
      option.disabled = !fits;
      if (!fits && option.selected) propertySelect.value = "";
    }
    let offered = 0;
    for (const box of document.querySelectorAll('input[name="sync_definitions"]')) {
      const types = (box.dataset.types || "").split(" ");
      const fits = Boolean(source && target) && types.includes(source) && types.includes(target)
        && (source !== target || types[0] === types[1]);
      const row = box.closest("div") || box.parentElement;
      show(row, fits);
      if (!fits) box.checked = false;
      if (fits) offered += 1;
    }
    const none = document.getElementById("sync-definitions-none");
    if (none) show(none, Boolean(source) && offered === 0);
  }

  document.addEventListener("DOMContentLoaded", function () {
    const definitions = document.getElementById("id_sync_definitions");
    if (definitions) {
      const none = document.createElement("p");
      none.id = "sync-definitions-none";
      none.className = "help";
      none.style.display = "none";
      none.textContent = "No association links these object types: there is no record to copy from.";
      definitions.after(none);
    }
    for (const [id, handler] of [
      ["id_type", applyType],
      ["id_object_type", applySource],
      ["id_sync_source_object_type", applySource],
    ]) {
      const element = document.getElementById(id);
      if (element) element.addEventListener("change", handler);
    }
    applyType();
    applySource();
  });
})();
