// The console's look: one style sheet for the element's shadow root (list, cards and dialogs).

import { css } from "lit";

export const consoleStyles = css`
  :host {
    display: block;
    font: inherit;
    color: #1f2328;
    --accent: #0b57d0;
    --danger: #b42318;
    --line: #d0d7de;
  }
  * { box-sizing: border-box; }
  h2 { font-size: 1.25rem; margin: 0 0 0.25rem; }
  h3 { font-size: 1.05rem; margin: 0; overflow-wrap: anywhere; }
  .top { display: flex; flex-wrap: wrap; gap: 0.75rem; justify-content: space-between; align-items: flex-start; }
  .lead { margin: 0; color: #57606a; }
  .top-actions { display: flex; flex-wrap: wrap; gap: 0.5rem; }
  .toolbar { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: center; margin: 1rem 0 0.5rem; }
  .toolbar label { display: flex; gap: 0.5rem; align-items: center; }
  button {
    font: inherit; min-height: 2.5rem; padding: 0.4rem 0.85rem; border-radius: 6px;
    border: 1px solid var(--line); background: #f6f8fa; color: inherit; cursor: pointer;
  }
  button:hover:not(:disabled) { background: #eef1f4; }
  button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible, h2:focus-visible {
    outline: 3px solid #5b9dff; outline-offset: 2px;
  }
  button:disabled { opacity: 0.55; cursor: not-allowed; }
  button[aria-disabled="true"] { opacity: 0.55; cursor: progress; }
  button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
  button.primary:hover:not(:disabled) { background: #0842a0; }
  button.danger { color: var(--danger); border-color: #f1aeb5; background: #fff; }
  button.danger.solid { background: var(--danger); color: #fff; border-color: var(--danger); }
  button.quiet { background: transparent; }
  select, input, textarea { font: inherit; padding: 0.4rem 0.5rem; border: 1px solid #8c959f; border-radius: 6px; max-width: 100%; }
  .notice { padding: 0.6rem 0.8rem; border-radius: 6px; margin: 0.5rem 0; }
  .notice.error { background: #fff0ee; border: 1px solid #f1aeb5; color: #82071e; display: flex; gap: 0.5rem; justify-content: space-between; align-items: start; }
  .notice.error button { min-height: 1.75rem; padding: 0 0.5rem; }
  .notice.info { background: #eef6ff; border: 1px solid #b6d4fe; }
  .empty { border: 1px dashed var(--line); border-radius: 8px; padding: 1.25rem; text-align: center; color: #57606a; }
  .cards { list-style: none; padding: 0; margin: 0.5rem 0; display: grid; gap: 0.75rem; }
  .card { border: 1px solid var(--line); border-radius: 8px; padding: 0.9rem 1rem; background: #fff; min-width: 0; }
  .card-head { display: flex; flex-wrap: wrap; gap: 0.5rem 0.75rem; align-items: center; justify-content: space-between; }
  .marks { display: flex; flex-wrap: wrap; gap: 0.35rem; justify-content: flex-end; align-items: center; }
  .description { margin: 0.35rem 0 0; color: #57606a; overflow-wrap: anywhere; }
  .badge { font-size: 0.85rem; font-weight: 600; padding: 0.15rem 0.6rem; border-radius: 999px; white-space: nowrap; border: 1px solid; }
  .badge.active { background: #dafbe1; color: #116329; border-color: #8ddb9e; }
  .badge.suspended { background: #fff8c5; color: #7d4e00; border-color: #e0c55d; }
  .badge.expired { background: #eaeef2; color: #424a53; border-color: #afb8c1; }
  .badge.revoked { background: #ffebe9; color: #a40e26; border-color: #f1aeb5; }
  .badge.leaked { background: #a40e26; color: #fff; border-color: #a40e26; }
  .badge.unused { background: #f5f0ff; color: #5a32a3; border-color: #d2c4f5; font-weight: 500; }
  .visually-hidden {
    position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
    clip: rect(0 0 0 0); white-space: nowrap; border: 0;
  }
  .facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(13rem, 1fr)); gap: 0.5rem 1rem; margin: 0.75rem 0; }
  .facts div { min-width: 0; }
  .facts dt { font-size: 0.8rem; color: #57606a; }
  .facts dd { margin: 0; overflow-wrap: anywhere; }
  code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em; overflow-wrap: anywhere; }
  .scopes { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 0.25rem; }
  .scopes li { background: #f6f8fa; border: 1px solid var(--line); border-radius: 4px; padding: 0 0.3rem; }
  .lock { color: #7d4e00; font-weight: 600; }
  .actions { display: flex; flex-wrap: wrap; gap: 0.4rem; }
  .reason { font-size: 0.9rem; color: #7d4e00; margin: 0.5rem 0 0; }
  .more { text-align: center; }
  .blocked { background: #fff0ee; border: 1px solid #f1aeb5; border-radius: 6px; padding: 0.5rem 0.75rem; margin: 0.6rem 0 0; color: #82071e; }
  .blocked p { margin: 0; }
  .blocked ul { margin: 0.25rem 0; padding-left: 1.25rem; }
  .blocked .fix { font-size: 0.9rem; color: #1f2328; }
  .leak-notice { background: #fff0ee; border: 1px solid #cf222e; border-left-width: 4px; border-radius: 6px; padding: 0.5rem 0.75rem; margin: 0.6rem 0 0; color: #82071e; }
  .leak-notice p { margin: 0.15rem 0; }
  .leak-notice .where { font-size: 0.9rem; overflow-wrap: anywhere; }
  .leak-notice .fix, .leak-answer .fix { color: #1f2328; }
  .leak-notice a { color: inherit; }
  dialog {
    width: min(36rem, calc(100vw - 1.5rem)); max-height: calc(100dvh - 1.5rem); border: 1px solid var(--line);
    border-radius: 10px; padding: 1.25rem; color: inherit; overflow-wrap: anywhere;
  }
  dialog::backdrop { background: rgb(15 23 42 / 0.55); }
  dialog form, dialog .secret, dialog .audit, dialog .leak-answer { display: grid; gap: 0.6rem; }
  .leak-answer p { margin: 0.25rem 0; }
  #leak-secret, #leak-url { width: 100%; }
  #leak-secret { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
  dialog label { display: grid; gap: 0.25rem; font-weight: 500; }
  dialog label.check { display: flex; gap: 0.5rem; align-items: center; }
  dialog .field { display: grid; gap: 0.25rem; }
  dialog .field > label { font-weight: 500; }
  dialog fieldset { border: 1px solid var(--line); border-radius: 6px; margin: 0; padding: 0.4rem 0.75rem 0.6rem; display: flex; flex-wrap: wrap; gap: 0.25rem 1.25rem; }
  dialog legend { font-weight: 500; padding: 0 0.25rem; }
  dialog h2 { outline: none; }
  .hint { font-size: 0.85rem; color: #57606a; margin: 0; }
  .warning { background: #fff8c5; border: 1px solid #e0c55d; border-radius: 6px; padding: 0.6rem 0.8rem; margin: 0; }
  #secret, #client-id { width: 100%; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; resize: none; }
  .secret-actions, .dialog-actions { display: flex; flex-wrap: wrap; gap: 0.5rem; }
  .dialog-actions { justify-content: flex-end; margin-top: 0.5rem; }
  .copied { margin: 0; min-height: 1.2em; color: #116329; }
  .suggestions { display: flex; flex-wrap: wrap; gap: 0.3rem; }
  .chip { min-height: 2rem; padding: 0.1rem 0.5rem; font-size: 0.85rem; }
  .events { list-style: none; padding: 0; margin: 0; display: grid; gap: 0.5rem; max-height: 55dvh; overflow: auto; }
  .events li { border-left: 3px solid var(--line); padding-left: 0.6rem; display: grid; }
  .events .when, .events .who { font-size: 0.85rem; color: #57606a; }
  .details { display: grid; grid-template-columns: max-content 1fr; gap: 0 0.5rem; font-size: 0.85rem; margin: 0.2rem 0 0; }
  .details dd { margin: 0; min-width: 0; }
  dialog.wide { width: min(48rem, calc(100vw - 1.5rem)); }
  .usage-dialog, .usage { display: grid; gap: 0.6rem; min-width: 0; }
  .usage-totals { margin: 0; }
  .chart { display: grid; grid-template-columns: auto minmax(0, 1fr); gap: 0.2rem 0.4rem; }
  .chart svg { grid-column: 2; width: 100%; height: 10rem; display: block; }
  .chart-scale { grid-column: 1; display: flex; flex-direction: column; justify-content: space-between; text-align: right; }
  .chart-days { grid-column: 2; display: flex; justify-content: space-between; }
  .chart-scale, .chart-days, .legend { font-size: 0.8rem; color: #57606a; }
  .chart .grid { stroke: #eaeef2; }
  .chart .axis { stroke: #8c959f; }
  .chart .uses { fill: var(--accent); }
  .chart .refused { fill: #d1242f; }
  .legend { margin: 0; display: flex; flex-wrap: wrap; gap: 0.3rem; align-items: center; }
  .legend .key { display: inline-block; width: 0.8rem; height: 0.8rem; border-radius: 2px; }
  .legend .key.uses { background: var(--accent); }
  .legend .key.refused { background: #d1242f; margin-left: 0.75rem; }
  .usage-actions { display: flex; flex-wrap: wrap; gap: 0.5rem; }
  .table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
  .table-wrap[hidden] { display: none; }
  .usage table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
  .usage caption { text-align: left; font-size: 0.85rem; color: #57606a; padding: 0.4rem 0.5rem; }
  .usage th, .usage td { text-align: left; padding: 0.25rem 0.5rem; border-top: 1px solid #eaeef2; vertical-align: top; overflow-wrap: normal; }
  .usage thead th { white-space: nowrap; }
  .usage th[scope="row"] { font-weight: 500; white-space: nowrap; }
  .usage td:nth-child(2), .usage td:nth-child(3), .usage thead th:nth-child(2), .usage thead th:nth-child(3) { text-align: right; font-variant-numeric: tabular-nums; }
  .usage thead th:nth-child(4) { width: 50%; }
  .usage tfoot th, .usage tfoot td { font-weight: 600; border-top: 2px solid var(--line); }
  .reasons { list-style: none; margin: 0; padding: 0; }
  .usage-dialog h3 { margin-top: 0.5rem; }
  .top-list { list-style: none; margin: 0; padding: 0; display: grid; }
  .top-list li { display: flex; flex-wrap: wrap; justify-content: space-between; gap: 0 1rem; padding: 0.3rem 0; border-top: 1px solid #eaeef2; }
  .top-name { flex: 1 1 12rem; font-weight: 500; overflow-wrap: anywhere; }
  .top-uses { margin-left: auto; white-space: nowrap; font-variant-numeric: tabular-nums; color: #57606a; }
  .webhooks { margin-top: 2rem; border-top: 1px solid var(--line); padding-top: 1rem; }
  .section-heading { margin: 0; }
  button.disclosure {
    font: inherit; font-weight: 600; font-size: 1.25rem; border: none; background: transparent;
    padding: 0.25rem 0.5rem 0.25rem 0.25rem; margin-left: -0.25rem; display: inline-flex; gap: 0.5rem; align-items: center;
  }
  button.disclosure:hover:not(:disabled) { background: #f6f8fa; }
  .chevron {
    display: inline-block; width: 0.55rem; height: 0.55rem; border-right: 2px solid currentColor;
    border-bottom: 2px solid currentColor; transform: rotate(-45deg); transition: transform 0.15s;
  }
  button.disclosure[aria-expanded="true"] .chevron { transform: translateY(-0.2rem) rotate(45deg); }
  #webhooks-body[hidden] { display: none; }
  .webhooks .toolbar { margin-top: 0.75rem; }
  .webhooks .toolbar .hint { flex: 1 1 14rem; }
  .webhook h3.url { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.98rem; font-weight: 600; min-width: 0; }
  .badge.disabled { background: #eaeef2; color: #424a53; border-color: #afb8c1; }
  .badge.pending { background: #fff8c5; color: #7d4e00; border-color: #e0c55d; }
  .badge.delivered { background: #dafbe1; color: #116329; border-color: #8ddb9e; }
  .badge.failed { background: #ffebe9; color: #a40e26; border-color: #f1aeb5; }
  .url-line { margin: 0; }
  dialog .webhook-form { display: grid; gap: 0.75rem; }
  dialog fieldset.event-types { display: grid; gap: 0.5rem; }
  dialog fieldset.event-group { display: grid; grid-template-columns: repeat(auto-fill, minmax(14rem, 1fr)); gap: 0.15rem 1rem; }
  dialog fieldset.event-group legend { font-size: 0.9rem; }
  dialog label.check.all { font-weight: 600; }
  dialog .event-group code { font-size: 0.85rem; }
  #webhook-url, #webhook-description { width: 100%; }
  #webhook-secret { width: 100%; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; resize: none; }
  .deliveries { display: grid; gap: 0.6rem; min-width: 0; }
  .deliveries table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
  .deliveries caption { text-align: left; font-size: 0.85rem; color: #57606a; padding: 0.4rem 0.5rem; }
  .deliveries th, .deliveries td { text-align: left; padding: 0.35rem 0.5rem; border-top: 1px solid #eaeef2; vertical-align: top; overflow-wrap: normal; }
  .deliveries thead th { white-space: nowrap; }
  .deliveries th[scope="row"] { font-weight: 400; }
  .deliveries th[scope="row"] code { display: block; word-break: break-all; }
  .deliveries .when { display: block; font-size: 0.8rem; color: #57606a; }
  .deliveries td.number { text-align: right; font-variant-numeric: tabular-nums; }
  .deliveries td code { white-space: nowrap; overflow-wrap: normal; }
  .webhook .facts .event-types { grid-column: 1 / -1; }
  .deliveries .empty { text-align: left; }
  @media (max-width: 560px) {
    /* Each delivery a small card of labelled cells: six columns do not fit a phone. */
    .deliveries .table-wrap { border: none; }
    .deliveries table, .deliveries tbody, .deliveries tr, .deliveries th[scope="row"], .deliveries td { display: block; }
    .deliveries thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
    .deliveries caption { display: block; padding: 0 0 0.25rem; }
    .deliveries tbody tr { border: 1px solid var(--line); border-radius: 6px; padding: 0.4rem 0.6rem; margin-bottom: 0.5rem; }
    .deliveries tbody th[scope="row"], .deliveries tbody td {
      display: grid; grid-template-columns: 6.5rem minmax(0, 1fr); gap: 0.5rem; border: none; padding: 0.1rem 0;
    }
    .deliveries tbody [data-label]::before { content: attr(data-label); color: #57606a; font-size: 0.85rem; font-weight: 400; }
    .deliveries td.number { text-align: left; }
  }
  @media (max-width: 480px) {
    .facts { grid-template-columns: 1fr 1fr; }
    .card { padding: 0.75rem; }
    .actions button { flex: 1 1 auto; }
    dialog.wide { padding: 1rem; }
    .usage table { font-size: 0.85rem; }
    .usage th, .usage td { padding: 0.25rem 0.35rem; }
  }
`;
