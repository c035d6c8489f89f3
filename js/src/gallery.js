// A virtualised thumbnail gallery: only the visible cells exist in the DOM; thumbnails are asked from the
// kernel for the cells about to show and cached as object URLs. Every user string is set as text.
import { el } from "./dom.js";
import { GROUP_COLUMN, NO_GROUP, groupOf, groupStripes, isConflicting } from "./duplicates.js";
import { suggestedClass, suggestionText } from "./labels.js";
import { filterRanked, rankBy } from "./selection.js";

const CAPTION_LINES = 2; // a third when the table has suggested labels (the label-issue flag)
const LINE_PX = 12;
const PAD = 6;
const MIN_CAPTION_PX = 72; // room for "#12345 Pullover → Coat" style captions

export class Gallery {
  constructor(model, table, { onFocus, onHover = () => {}, onThumbnail = () => {} }) {
    this.model = model;
    this.table = table;
    this.onFocus = onFocus;
    this.onHover = onHover; // a thumbnail under the pointer (its row position), or -1 when the pointer leaves
    this.onThumbnail = onThumbnail; // a thumbnail arrived from the kernel (its row position)
    this.flags = null; // Uint8Array of selected rows, or null = everything
    this.order = [];
    this.rankings = new Map(); // column -> all row positions sorted ascending by it (computed once)
    this.urls = new Map(); // position -> object URL
    this.cells = new Map(); // position -> cell element, for the visible cells
    this.requested = new Set();
    this.captionLines = table.columns.suggested_label ? CAPTION_LINES + 1 : CAPTION_LINES;
    this.root = el("div", "dw-gallery");
    this.toolbar = el("div", "dw-toolbar");
    this.scroll = el("div", "dw-scroll");
    this.spacer = el("div", "dw-spacer");
    this.scroll.appendChild(this.spacer);
    this.detail = el("div", "dw-detail");
    this.root.append(this.toolbar, this.scroll);
    this.buildToolbar();
    this.scroll.addEventListener("scroll", () => this.draw());
    this.resizeObserver = new ResizeObserver(() => this.draw());
    this.resizeObserver.observe(this.scroll);
  }

  get size() {
    return this.model.get("thumb_size");
  }

  buildToolbar() {
    const columns = this.model.get("_score_columns");
    const sortLabel = el("label", "", "sort by ");
    this.sortSelect = el("select", "dw-sort");
    for (const { name, title } of [{ name: "id", title: "id" }, ...columns]) {
      const option = el("option", "", title);
      option.value = name;
      this.sortSelect.appendChild(option);
    }
    this.sortSelect.value = this.model.get("sort_by");
    this.sortSelect.addEventListener("change", () => {
      this.model.set("sort_by", this.sortSelect.value); // the change listener refreshes
      this.model.save_changes();
    });
    this.direction = el("button", "dw-direction");
    this.direction.addEventListener("click", () => {
      this.model.set("sort_descending", !this.model.get("sort_descending"));
      this.model.save_changes();
    });
    const captionLabel = el("label", "", "caption ");
    this.captionSelect = el("select", "dw-caption-score");
    for (const { name, title } of columns) {
      const option = el("option", "", title);
      option.value = name;
      this.captionSelect.appendChild(option);
    }
    this.captionSelect.value = this.model.get("caption_score");
    this.captionSelect.addEventListener("change", () => {
      this.model.set("caption_score", this.captionSelect.value);
      this.model.save_changes();
    });
    this.total = el("span", "dw-total");
    sortLabel.appendChild(this.sortSelect);
    captionLabel.appendChild(this.captionSelect);
    this.toolbar.append(sortLabel, this.direction, captionLabel, this.total);
  }

  positionOf(id) {
    return id === null || id === undefined ? -1 : this.table.columns.id.indexOf(id);
  }

  setSelection(flags) {
    this.flags = flags;
    this.refresh();
  }

  ranking(column, descending) {
    const key = `${column}:${descending}`;
    if (!this.rankings.has(key)) this.rankings.set(key, rankBy(this.table.columns[column], descending));
    return this.rankings.get(key);
  }

  refresh() {
    const sortBy = this.model.get("sort_by");
    const descending = this.model.get("sort_descending");
    this.sortSelect.value = sortBy;
    this.captionSelect.value = this.model.get("caption_score");
    this.direction.textContent = descending ? "↓ descending" : "↑ ascending";
    this.order = filterRanked(this.ranking(sortBy, descending), this.flags);
    // sorted by duplicate group, the members of a group sit side by side: a shade alternating per group tells
    // adjacent groups apart
    const groups = this.table.columns[GROUP_COLUMN];
    this.stripes = sortBy === GROUP_COLUMN && groups ? groupStripes(this.order, groups) : null;
    this.total.textContent = `${this.order.length} shown`;
    this.root.dataset.total = String(this.order.length);
    this.scroll.style.height = `${this.model.get("gallery_height")}px`;
    this.scroll.scrollTop = 0;
    this.draw();
  }

  layout() {
    const cellW = Math.max(this.size, MIN_CAPTION_PX) + PAD;
    const cellH = this.size + PAD + this.captionLines * LINE_PX;
    const width = Math.max(cellW, this.scroll.clientWidth || 600);
    const perRow = Math.max(1, Math.floor(width / cellW));
    return { cellW, cellH, perRow };
  }

  draw() {
    const { cellW, cellH, perRow } = this.layout();
    const rows = Math.ceil(this.order.length / perRow);
    this.spacer.style.height = `${rows * cellH}px`;
    const top = this.scroll.scrollTop;
    const height = this.model.get("gallery_height");
    const firstRow = Math.max(0, Math.floor(top / cellH) - 1);
    const lastRow = Math.min(rows, Math.ceil((top + height) / cellH) + 1);
    const start = firstRow * perRow;
    const stop = Math.min(this.order.length, lastRow * perRow);
    const captionScore = this.model.get("caption_score");
    if (captionScore !== this.captionShown) {
      this.cells.clear(); // captions changed: build cells anew
      this.captionShown = captionScore;
    }
    const cells = [];
    const kept = new Map();
    for (let k = start; k < stop; k++) {
      const position = this.order[k];
      const cell = this.cells.get(position) || this.cell(position, captionScore);
      cell.style.left = `${(k % perRow) * cellW}px`;
      cell.style.top = `${Math.floor(k / perRow) * cellH}px`;
      cell.style.width = `${cellW - 2}px`;
      cell.style.height = `${cellH - 2}px`;
      const stripe = this.stripes ? this.stripes[k] : NO_GROUP;
      cell.classList.toggle("dw-group-a", stripe === 0);
      cell.classList.toggle("dw-group-b", stripe === 1);
      cells.push(cell);
      kept.set(position, cell);
    }
    this.cells = kept; // only the visible cells stay alive
    this.spacer.replaceChildren(...cells);
    this.markFocus();
    // ask for the visible thumbnails and the next screenful
    const ahead = Math.min(this.order.length, stop + (lastRow - firstRow) * perRow);
    this.request(this.order.slice(start, ahead));
  }

  markFocus() {
    const focus = this.model.get("focus");
    for (const [position, cell] of this.cells) {
      cell.classList.toggle("dw-focused", this.table.columns.id[position] === focus);
    }
  }

  image(position) {
    const url = this.urls.get(position);
    if (!url) {
      const ph = el("div", "dw-placeholder");
      ph.style.width = ph.style.height = `${this.size}px`;
      return ph;
    }
    const img = document.createElement("img");
    img.src = url;
    img.width = this.size;
    img.height = this.size;
    img.style.objectFit = "contain";
    return img;
  }

  cell(position, captionScore) {
    const c = this.table.columns;
    const cell = el("div", "dw-cell");
    const id = c.id[position];
    cell.dataset.id = String(id);
    if (this.model.get("has_images")) cell.appendChild(this.image(position));
    const correct = c.correct ? c.correct[position] : true;
    const names = this.model.get("_class_names");
    const first = this.captionOf(position);
    const line1 = el("div", "dw-caption" + (correct ? "" : " dw-wrong"), first);
    const score = captionScore && c[captionScore] ? `${captionScore} ${fmt(c[captionScore][position])}` : "";
    const line2 = el("div", "dw-caption", score);
    cell.title = first;
    const group = groupOf(c[GROUP_COLUMN], position);
    if (group !== null) {
      cell.dataset.group = String(group);
      if (isConflicting(c, position)) {
        // a duplicate of an image with another label: the label is highlighted
        line1.classList.add("dw-conflict");
        cell.dataset.conflict = "1";
        cell.title = `${first}\nduplicate group ${group}: the labels differ`;
      }
    }
    cell.append(line1, line2);
    const suggested = suggestedClass(c, position);
    if (suggested !== null) {
      // the label-issue flag suggests another label: "suggested: T-shirt" (the tooltip and the instance view
      // spell out "label: shirt → suggested: T-shirt")
      const line3 = el("div", "dw-caption dw-suggested", `suggested: ${names[suggested]}`);
      cell.title = `${cell.title}\n${suggestionText(c.label_name[position], names[suggested])}`;
      cell.dataset.suggested = String(suggested);
      cell.appendChild(line3);
    }
    cell.addEventListener("click", () => this.onFocus(position));
    cell.addEventListener("mouseenter", () => this.onHover(position));
    cell.addEventListener("mouseleave", () => this.onHover(-1));
    return cell;
  }

  /** "#id label", and "→ predicted" when the prediction is wrong: a row's first caption line. */
  captionOf(position) {
    const c = this.table.columns;
    const correct = c.correct ? c.correct[position] : true;
    const predicted = c.prediction ? this.model.get("_class_names")[c.prediction[position]] : null;
    return `#${c.id[position]} ${c.label_name[position]}` + (predicted !== null && !correct ? ` → ${predicted}` : "");
  }

  /** A row's thumbnail URL, or null while it is asked from the kernel (onThumbnail tells when it arrives). */
  thumbnailFor(position) {
    const url = this.urls.get(position);
    if (url) return url;
    this.request([position]);
    return null;
  }

  request(positions) {
    if (!this.model.get("has_images")) return;
    const missing = Array.from(positions).filter((p) => !this.urls.has(p) && !this.requested.has(p));
    if (missing.length === 0) return;
    for (const p of missing) this.requested.add(p);
    this.model.send({ type: "thumbnails", positions: missing });
  }

  receive(msg, buffers) {
    if (!msg || msg.type !== "thumbnails") return;
    msg.positions.forEach((p, k) => {
      const blob = new Blob([buffers[k]], { type: "image/png" });
      this.urls.set(p, URL.createObjectURL(blob));
      this.requested.delete(p);
      this.onThumbnail(p);
      const cell = this.cells.get(p); // swap the placeholder of a visible cell in place
      if (cell && cell.firstChild && cell.firstChild.tagName !== "IMG") cell.replaceChild(this.image(p), cell.firstChild);
    });
    const detail = this.model.get("_focus_detail") || {};
    const strips = [...(detail.neighbours || []), ...(detail.duplicates || [])];
    const shown = [this.positionOf(this.model.get("focus")), ...strips.map((n) => n.position)];
    if (msg.positions.some((p) => shown.includes(p))) this.showFocus();
  }

  showFocus() {
    const focus = this.model.get("focus");
    const c = this.table.columns;
    this.detail.replaceChildren();
    if (focus === null || focus === undefined) {
      this.detail.appendChild(el("div", "dw-hint", "Click a thumbnail to see all of its scores."));
      this.markFocus();
      return;
    }
    const position = this.positionOf(focus);
    if (position < 0) return;
    const url = this.urls.get(position);
    if (url) {
      const img = document.createElement("img");
      img.src = url;
      img.width = img.height = Math.max(112, this.size * 2);
      this.detail.appendChild(img);
    } else this.request([position]);
    const table = el("table");
    const names = this.model.get("_class_names");
    const detail = this.model.get("_focus_detail") || {};
    const scored = detail.id === focus ? detail.scores : [];
    const described = new Set(scored.map((r) => r.name));
    if (detail.id === focus && detail.suggestion) {
      this.detail.appendChild(el("div", "dw-suggestion", detail.suggestion)); // "label: shirt → suggested: T-shirt"
    }
    if (detail.id === focus && detail.leak) this.detail.appendChild(el("div", "dw-leak", detail.leak));
    if (detail.id === focus && detail.duplicates && detail.duplicates.length) {
      // its exact or near duplicates, first: a duplicate with another label is a label error in one of them
      const title = `${detail.duplicates.length} duplicate${detail.duplicates.length === 1 ? "" : "s"}`;
      const split = c.split ? (n) => String(c.split[n.position]) : () => "";
      this.detail.appendChild(this.strip(title, detail.duplicates, split, "dw-duplicate"));
    }
    for (const [name, column] of Object.entries(c)) {
      if (described.has(name) || name === "label_name" || name === "prediction_name") continue;
      let value = column[position];
      if (name === "prediction" || name === "label") value = `${value} (${names[value]})`;
      else if (name === "suggested_label" && value === value && value !== null) value = `${value} (${names[value]})`;
      const tr = el("tr");
      tr.append(el("td", "", name), el("td", "", fmt(value)), el("td"));
      table.appendChild(tr);
    }
    for (const r of scored) {
      // the share of instances this one is harder than, by that measure's own direction of difficulty
      const harder = r.harder_than === null ? "" : `harder than ${Math.round(r.harder_than)}%`;
      const tr = el("tr", "dw-score");
      tr.dataset.name = r.name;
      tr.title = `${r.direction}; percentile ${r.percentile === null ? "–" : r.percentile.toFixed(1)}`;
      tr.append(el("td", "", r.name), el("td", "", fmt(r.value === null ? NaN : r.value)), el("td", "", harder));
      table.appendChild(tr);
    }
    this.detail.dataset.focus = String(focus);
    this.detail.appendChild(table);
    if (detail.id === focus && detail.neighbours.length) {
      const title = `${detail.neighbours.length} nearest neighbours`;
      this.detail.appendChild(this.strip(title, detail.neighbours, (n) => `d ${fmt(n.distance)}`, "dw-neighbour"));
    }
    this.markFocus();
  }

  /**
   * Other instances of the focused one (its nearest neighbours, its duplicates: {position, id, label, same_label}
   * from the kernel) as thumbnails (elements of class `item`) captioned with their label and `second(n)`; another
   * label is outlined in red; a click focuses one.
   */
  strip(title, list, second, item) {
    const box = el("div", `dw-neighbours ${item}s`);
    box.appendChild(el("div", "dw-neighbours-title", title));
    const names = this.model.get("_class_names");
    const missing = [];
    for (const n of list) {
      const cell = el("div", `dw-strip-item ${item}` + (n.same_label ? "" : " dw-other-label"));
      cell.dataset.id = String(n.id);
      if (this.model.get("has_images")) {
        if (!this.urls.has(n.position)) missing.push(n.position);
        cell.appendChild(this.image(n.position));
      }
      cell.appendChild(el("div", "dw-caption", `#${n.id} ${names[n.label]}`));
      cell.appendChild(el("div", "dw-caption", second(n)));
      cell.title = n.same_label ? "same label" : "another label";
      cell.addEventListener("click", () => this.onFocus(n.position));
      box.appendChild(cell);
    }
    if (missing.length) this.request(missing);
    return box;
  }

  dispose() {
    this.resizeObserver.disconnect();
    for (const url of this.urls.values()) URL.revokeObjectURL(url);
    this.urls.clear();
  }
}

function fmt(v) {
  if (typeof v === "number" && !Number.isInteger(v)) return Math.abs(v) >= 1000 || Math.abs(v) < 0.001 ? v.toExponential(2) : v.toFixed(3);
  return String(v);
}

