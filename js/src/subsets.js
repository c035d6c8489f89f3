// The subsets bar: save the selection under a name, select a saved subset or a combination of two. Python does
// the work (explorer.save_subset / select_subset); this sends the request and lists the names it reports. Saving
// under a name already used asks first: the button turns into "Replace subset" until clicked again.
// Beside it, the named-pattern picker (explorer.select_pattern) and the reference picker.

import { el } from "./dom.js";
const OPERATIONS = [
  ["", "—"],
  ["union", "∪ union"],
  ["intersection", "∩ intersection"],
  ["difference", "− difference"],
];


/**
 * What a click on "Save selection" does (pure: no DOM): {request, message, pending}. A name already saved is
 * replaced only on a second click with the same name (`pending` is the name waiting for that click).
 */
export function saveStep(typed, names, pending) {
  const name = typed.trim();
  if (!name) return { request: null, message: "Type a name for the subset first.", pending: null };
  if (names.includes(name) && pending !== name) {
    return { request: null, message: `A subset named "${name}" exists: click Save again to replace it.`, pending: name };
  }
  const request = names.includes(name) ? { action: "save", name, overwrite: true } : { action: "save", name };
  return { request, message: "", pending: null };
}

export class SubsetsBar {
  constructor(model) {
    this.model = model;
    this.root = el("span", "dw-subsets");
    this.name = el("input", "dw-subset-name");
    this.name.placeholder = "subset name";
    this.save = el("button", "dw-subset-save", "Save selection");
    this.first = el("select", "dw-subset-a");
    this.operation = el("select", "dw-subset-op");
    for (const [value, label] of OPERATIONS) {
      const option = el("option", "", label);
      option.value = value;
      this.operation.appendChild(option);
    }
    this.second = el("select", "dw-subset-b");
    this.select = el("button", "dw-subset-select", "Select");
    this.message = el("span", "dw-subset-message");
    this.root.append(this.name, this.save, this.first, this.operation, this.second, this.select, this.message);
    this.pending = null; // a saved name typed again: the next click on Save replaces that subset
    this.lastSave = null;
    this.save.addEventListener("click", () => {
      const step = saveStep(this.name.value, this.model.get("_subset_names") || [], this.pending);
      this.setPending(step.pending);
      if (!step.request) {
        this.message.textContent = step.message;
        return;
      }
      this.send(step.request);
      this.lastSave = step.request.overwrite ? null : step.request.name; // a replacement is never refused as taken
      this.name.value = "";
    });
    this.name.addEventListener("input", () => {
      this.setPending(null); // another name: ask again
      this.message.textContent = ""; // and the old message no longer applies
    });
    this.select.addEventListener("click", () => {
      if (!this.first.value) return;
      const operation = this.operation.value;
      this.send({ action: "select", name: this.first.value, operation, other: operation ? this.second.value : "" });
    });
    this.operation.addEventListener("change", () => this.refresh());
    this.onNames = () => {
      const now = this.model.get("_subset_names") || [];
      if (!this.names.includes(this.lastSave) && now.includes(this.lastSave)) this.lastSave = null; // it was saved
      this.refresh();
    };
    model.on("change:_subset_names", this.onNames);
    this.refresh();
  }

  send(request) {
    this.message.textContent = "";
    if (request.action !== "save") this.lastSave = null;
    this.model.send({ type: "subset", ...request });
  }

  /** A message for the person clicking (from here, or a `subset_error` from the kernel). */
  error(text) {
    this.message.textContent = text;
    const name = this.lastSave;
    this.lastSave = null;
    if (!name) return;
    this.name.value = name; // the kernel refused that save: the name stays typed, to try again
    // taken meanwhile (e.g. saved in another panel): the next click replaces it, as the message says
    if ((this.model.get("_subset_names") || []).includes(name)) this.setPending(name);
  }

  setPending(name) {
    this.pending = name;
    this.save.textContent = name === null ? "Save selection" : "Replace subset";
    if (name === null) delete this.root.dataset.pending;
    else this.root.dataset.pending = name;
  }

  refresh() {
    const names = this.model.get("_subset_names") || [];
    this.names = names;
    for (const box of [this.first, this.second]) {
      const keep = box.value;
      box.replaceChildren(...names.map((n) => Object.assign(el("option", "", n), { value: n })));
      if (names.includes(keep)) box.value = keep;
    }
    const some = names.length > 0;
    this.first.style.display = this.operation.style.display = this.select.style.display = some ? "" : "none";
    this.second.style.display = some && this.operation.value ? "" : "none";
    this.root.dataset.subsets = String(names.length);
  }

  dispose() {
    if (this.model.off) this.model.off("change:_subset_names", this.onNames);
  }
}

/** Select a named difficulty pattern ("label issues", "confident but wrong", ...): Python selects its rows. */
export function patternPicker(model) {
  const label = el("label", "dw-patterns", "pattern ");
  const select = el("select", "dw-pattern");
  const fill = () => {
    const patterns = model.get("_pattern_names") || [];
    const options = [{ name: "", description: "" }, ...patterns].map(({ name, description }) =>
      Object.assign(el("option", "", name || "select…"), { value: name, title: description }),
    );
    select.replaceChildren(...options);
    label.style.display = patterns.length ? "" : "none";
  };
  fill();
  model.on("change:_pattern_names", fill);
  select.addEventListener("change", () => {
    const name = select.value;
    if (!name) return;
    model.send({ type: "pattern", name });
    select.value = ""; // picking the same pattern again, after another selection, selects it again
    label.dataset.last = name;
  });
  label.appendChild(select);
  return label;
}

/** The flow view's reference: all instances or a saved subset (Python sends the subset's rows). */
export function referencePicker(model) {
  const label = el("label", "dw-reference", "compare with ");
  const select = el("select", "dw-flow-reference");
  const fill = () => {
    const names = model.get("_subset_names") || [];
    const options = [["", "all instances"], ...names.map((n) => [n, `subset: ${n}`])];
    select.replaceChildren(...options.map(([value, text]) => Object.assign(el("option", "", text), { value })));
    select.value = model.get("reference") || "";
  };
  fill();
  model.on("change:_subset_names", fill);
  model.on("change:reference", fill);
  select.addEventListener("change", () => {
    model.set("reference", select.value);
    model.save_changes();
  });
  label.appendChild(select);
  return label;
}
