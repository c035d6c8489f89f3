export const STYLE = `
.dw-explorer { font-family: system-ui, sans-serif; font-size: 12px; color: #222; }
.dw-header { display: flex; gap: 12px; align-items: center; margin: 4px 0 8px; }
.dw-count { font-weight: 600; }
.dw-charts { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.dw-chart { min-width: 0; }
.dw-bottom { display: flex; gap: 12px; margin-top: 8px; }
.dw-gallery { flex: 1 1 auto; min-width: 0; }
.dw-toolbar { display: flex; gap: 8px; align-items: center; margin-bottom: 4px; flex-wrap: wrap; }
.dw-scroll { position: relative; overflow-y: auto; border: 1px solid #ddd; background: #fafafa; }
.dw-spacer { position: relative; }
.dw-cell { position: absolute; box-sizing: border-box; padding: 2px; cursor: pointer; overflow: hidden;
  border: 1px solid transparent; border-radius: 3px; background: #fff; }
.dw-cell:hover { border-color: #888; }
.dw-cell.dw-focused { border-color: #d62728; box-shadow: 0 0 0 1px #d62728; }
.dw-cell img, .dw-detail img { image-rendering: pixelated; display: block; margin: 0 auto; background: #eee; }
.dw-cell .dw-placeholder { background: #eee; margin: 0 auto; }
.dw-caption { font-size: 10px; line-height: 12px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.dw-caption.dw-wrong { color: #b22222; }
.dw-caption.dw-suggested, .dw-suggestion { color: #7b4fa6; }
.dw-suggestion { font-weight: 600; margin: 4px 0; }
.dw-patterns { display: inline-flex; gap: 4px; align-items: center; }
.dw-detail { flex: 0 0 240px; border: 1px solid #ddd; padding: 6px; overflow: auto; }
.dw-detail table { border-collapse: collapse; width: 100%; }
.dw-detail td { padding: 1px 4px; border-bottom: 1px solid #eee; font-variant-numeric: tabular-nums; }
.dw-detail td:first-child { color: #555; }
.dw-graph-search { width: 200px; }
.dw-subsets { display: inline-flex; gap: 4px; align-items: center; margin-left: auto; }
.dw-subset-name { width: 120px; }
.dw-subset-message { color: #b22222; }
.dw-neighbours { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 6px; }
.dw-neighbours-title { flex-basis: 100%; color: #555; }
.dw-strip-item { cursor: pointer; border: 1px solid #ddd; border-radius: 3px; padding: 2px; max-width: 72px; }
.dw-strip-item.dw-other-label { border-color: #e45756; }
.dw-caption.dw-conflict { color: #fff; background: #d95f02; border-radius: 2px; padding: 0 2px; }
.dw-cell.dw-group-a { background: #e8eef7; }
.dw-cell.dw-group-b { background: #f7efe2; }
.dw-leak { color: #d95f02; font-weight: 600; margin: 4px 0; }
.dw-detail { flex: 0 0 280px; }
.dw-graph-status { color: #555; }
`;
