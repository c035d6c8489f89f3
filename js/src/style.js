// Every colour comes from the notebook's theme: JupyterLab's --jp-* variables, else VS Code's --vscode-* ones, else a
// light default. theme.js reads the resolved --dw-* variables for the charts.
export const STYLE = `
.dw-explorer {
  --dw-fg: var(--jp-ui-font-color1, var(--vscode-foreground, #222222));
  --dw-fg2: var(--jp-ui-font-color2, var(--vscode-descriptionForeground, #555555));
  --dw-bg: var(--jp-layout-color0, var(--vscode-notebook-outputContainerBackgroundColor,
    var(--vscode-editor-background, #ffffff)));
  --dw-bg1: var(--jp-layout-color1, var(--vscode-editorWidget-background, #ffffff));
  --dw-bg2: var(--jp-layout-color2, var(--vscode-sideBar-background, #eeeeee));
  --dw-border: var(--jp-border-color1, var(--vscode-editorWidget-border, var(--vscode-panel-border, #bdbdbd)));
  --dw-border2: var(--jp-border-color2, var(--vscode-panel-border, #e0e0e0));
  --dw-accent: var(--jp-brand-color1, var(--vscode-focusBorder, #1976d2));
  --dw-error: var(--jp-error-color1, var(--vscode-errorForeground, #d32f2f));
  --dw-error-text: color-mix(in srgb, var(--dw-error) 72%, var(--dw-fg));
  --dw-suggest-text: color-mix(in srgb, #8e5cc0 62%, var(--dw-fg));
  --dw-warn-text: color-mix(in srgb, #d95f02 66%, var(--dw-fg));
  --dw-surface: color-mix(in srgb, var(--dw-bg2) 50%, var(--dw-bg1));
  font-family: var(--jp-ui-font-family, var(--vscode-font-family, system-ui, sans-serif)); font-size: 12px;
  color: var(--dw-fg); background: var(--dw-bg);
}
.dw-explorer button, .dw-explorer select, .dw-explorer input {
  color: var(--dw-fg); background: var(--dw-bg1); border: 1px solid var(--dw-border); border-radius: 2px;
  font: inherit; padding: 1px 6px;
}
.dw-explorer input::placeholder { color: var(--dw-fg2); opacity: 1; }
.dw-explorer button:hover { border-color: var(--dw-fg2); }
.dw-explorer button:disabled { opacity: 0.6; }
.dw-explorer option { color: var(--dw-fg); background: var(--dw-bg1); }
.dw-header { display: flex; gap: 12px; align-items: center; margin: 4px 0 8px; flex-wrap: wrap; }
.dw-count { font-weight: 600; }
.dw-layout { display: grid; grid-template-columns: fit-content(64%) minmax(300px, 1fr); gap: 12px;
  align-items: start; }
.dw-explorer[data-gallery='0'] .dw-layout, .dw-explorer[data-layout='narrow'] .dw-layout {
  grid-template-columns: minmax(0, 1fr); }
.dw-charts { min-width: 0; display: flex; flex-direction: column; gap: 6px; }
.dw-main { overflow-x: auto; }
.dw-tabs { display: flex; flex-wrap: wrap; gap: 4px; width: 0; min-width: 100%; }
.dw-explorer[data-charts='0'] .dw-tabs, .dw-explorer[data-charts='1'] .dw-tabs,
.dw-explorer[data-charts='0'] .dw-others, .dw-explorer[data-charts='1'] .dw-others { display: none; }
.dw-explorer .dw-tab { border-radius: 10px; padding: 1px 8px; background: var(--dw-bg); }
.dw-explorer .dw-tab[aria-selected='true'] { border-color: var(--dw-accent); box-shadow: inset 0 0 0 1px var(--dw-accent); }
.dw-others { position: relative; display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start;
  width: 0; min-width: 100%; max-height: 560px; overflow: auto; border-top: 1px solid var(--dw-border2);
  padding-top: 6px; }
.dw-explorer[data-gallery='0'] .dw-others { max-height: none; }
.dw-chart { min-width: 0; max-width: 100%; overflow-x: auto; }
.dw-bottom { display: flex; flex-wrap: wrap; gap: 12px; min-width: 0; align-items: flex-start; }
.dw-gallery { flex: 3 1 380px; min-width: 0; }
.dw-toolbar { display: flex; gap: 8px; align-items: center; margin-bottom: 4px; flex-wrap: wrap; }
.dw-scroll { position: relative; overflow-y: auto; border: 1px solid var(--dw-border2); background: var(--dw-surface); }
.dw-spacer { position: relative; }
.dw-cell { position: absolute; box-sizing: border-box; padding: 2px; cursor: pointer; overflow: hidden;
  border: 1px solid transparent; border-radius: 3px; background: var(--dw-bg1); }
.dw-cell:hover { border-color: var(--dw-fg2); }
.dw-cell.dw-focused { border-color: var(--dw-accent); box-shadow: 0 0 0 1px var(--dw-accent); }
.dw-cell img, .dw-detail img { image-rendering: pixelated; display: block; margin: 0 auto; background: var(--dw-bg2); }
.dw-cell .dw-placeholder { background: var(--dw-bg2); margin: 0 auto; }
.dw-caption { font-size: 10px; line-height: 12px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.dw-caption.dw-wrong { color: var(--dw-error-text); }
.dw-caption.dw-suggested, .dw-suggestion { color: var(--dw-suggest-text); }
.dw-suggestion { font-weight: 600; margin: 4px 0; }
.dw-patterns { display: inline-flex; gap: 4px; align-items: center; }
.dw-detail { flex: 1 0 260px; max-width: 100%; box-sizing: border-box; border: 1px solid var(--dw-border2);
  padding: 6px; overflow: auto; }
.dw-detail table { border-collapse: collapse; width: 100%; }
.dw-detail td { padding: 1px 4px; border-bottom: 1px solid var(--dw-border2); font-variant-numeric: tabular-nums; }
.dw-detail td:first-child { color: var(--dw-fg2); }
.dw-graph-search { width: 200px; }
.dw-subsets { display: inline-flex; gap: 4px; align-items: center; margin-left: auto; }
.dw-subset-name { width: 120px; }
.dw-subset-message { color: var(--dw-error-text); }
.dw-neighbours { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 6px; }
.dw-neighbours-title { flex-basis: 100%; color: var(--dw-fg2); }
.dw-strip-item { cursor: pointer; border: 1px solid var(--dw-border2); border-radius: 3px; padding: 2px; max-width: 72px; }
.dw-strip-item.dw-other-label { border-color: var(--dw-error); }
.dw-caption.dw-conflict { color: #ffffff; background: #a94400; border-radius: 2px; padding: 0 2px; }
.dw-cell.dw-group-a { background: color-mix(in srgb, #4c78a8 16%, var(--dw-bg1)); }
.dw-cell.dw-group-b { background: color-mix(in srgb, #d9a441 18%, var(--dw-bg1)); }
.dw-leak { color: var(--dw-warn-text); font-weight: 600; margin: 4px 0; }
.dw-graph-status { color: var(--dw-fg2); }
.dw-hover { position: absolute; z-index: 5; pointer-events: none; padding: 3px; max-width: 120px;
  color: var(--dw-fg); background: var(--dw-bg1); border: 1px solid var(--dw-border); border-radius: 3px;
  box-shadow: 0 1px 4px rgba(0, 0, 0, 0.3); }
.dw-hover img { image-rendering: pixelated; display: block; margin: 0 auto 2px; }
.dw-hover-caption { font-size: 10px; line-height: 12px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.dw-ring { position: absolute; z-index: 4; pointer-events: none; width: 12px; height: 12px; margin: -7px 0 0 -7px;
  border: 2px solid var(--dw-fg); border-radius: 50%; box-shadow: 0 0 0 1px var(--dw-bg); }
`;
