// The search page of `splade-lite serve`: asks the server's API, draws the answers.
// Every text from the index goes in with textContent, never as HTML.
"use strict";

const K = 10;
const TERMS_SHOWN = 8;
const NAMES = { sparse: "Learned sparse", bm25: "BM25", hybrid: "Hybrid (sparse + BM25)" };
let indexes = [];

function $(id) { return document.getElementById(id); }

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function apiKey() { return sessionStorage.getItem("splade-lite-key") || ""; }

async function api(path, body) {
  const headers = { "Accept": "application/json" };
  if (apiKey()) headers["X-API-Key"] = apiKey();
  const init = { headers, method: body === undefined ? "GET" : "POST" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (response.status === 401) $("key-box").hidden = false;
  if (!response.ok) {
    const detail = data && typeof data.detail === "string" ? data.detail : response.statusText;
    throw new Error(detail);
  }
  return data;
}

function score(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}

function status(text, isError) {
  $("status").textContent = text;
  $("status").classList.toggle("error", Boolean(isError));
}

async function loadIndexes() {
  try {
    indexes = (await api("/api/indexes")).indexes;
  } catch (err) {
    status("Could not list the indexes: " + err.message, true);
    return;
  }
  const select = $("index");
  select.replaceChildren();
  for (const info of indexes) {
    const option = el("option", null, info.name + " (" + info.mode + ")");
    option.value = info.name;
    select.append(option);
  }
  updateModes();
  status(indexes.length + " index" + (indexes.length === 1 ? "" : "es") + " served.");
}

function chosenIndex() { return indexes.find((info) => info.name === $("index").value); }

function updateModes() {
  const info = chosenIndex();
  for (const input of document.querySelectorAll("input[name=mode]")) {
    input.disabled = !info || !info.modes.includes(input.value);
    if (input.disabled && input.checked) {
      document.querySelector("input[name=mode][value=sparse]").checked = true;
    }
  }
}

function segmentsNode(segments, fallback) {
  const node = el("span");
  if (!segments) { node.textContent = fallback; return node; }
  for (const part of segments) {
    if (!part.terms.length) { node.append(document.createTextNode(part.text)); continue; }
    const mark = el("mark", part.expansion ? "expansion" : "term", part.text);
    mark.title = (part.expansion ? "expansion term" : "query term") + ": " + part.terms.join(", ");
    mark.dataset.terms = part.terms.join(" ");
    node.append(mark);
  }
  return node;
}

function termBars(explanation) {
  const list = el("ul", "terms");
  const shown = explanation.matched.slice(0, TERMS_SHOWN);
  const top = shown.length ? shown[0].contribution : 0;
  for (const term of shown) {
    const row = el("li", "term-row");
    const kind = term.expansion_in_doc ? "doc-expansion"
      : term.expansion_in_query ? "expansion" : "term";
    const name = el("span", "term-name " + kind, term.term);
    name.title = "query " + term.query_weight + " x document " + term.doc_weight;
    const track = el("span", "bar-track");
    const bar = el("span", "bar " + kind);
    bar.style.width = (top > 0 ? (100 * term.contribution) / top : 0).toFixed(1) + "%";
    track.append(bar);
    const share = explanation.score > 0 ? (100 * term.contribution / explanation.score) : 0;
    row.append(name, track, el("span", "term-value", term.contribution + " (" + share.toFixed(0) + "%)"));
    list.append(row);
  }
  const rest = explanation.matched.length - shown.length;
  if (rest > 0) list.append(el("li", "term-more", "and " + rest + " more terms"));
  if (!explanation.matched.length) list.append(el("li", "term-more", "no term in common"));
  return list;
}

function hitNode(hit, explanation, otherRanks, otherName) {
  const item = el("li", "hit");
  item.dataset.docid = hit.docid;
  const head = el("div", "hit-head");
  head.append(el("span", "rank", "#" + hit.rank));
  const title = el("span", "title");
  title.append(segmentsNode(explanation && explanation.segments.title, hit.title || hit.docid));
  head.append(title, el("span", "docid", hit.docid), el("span", "score", score(hit.score)));
  const other = otherRanks.get(hit.docid);
  head.append(el("span", "other-rank",
    other ? otherName + " #" + other : "not in " + otherName + "'s top " + K));
  item.append(head);
  const text = el("p", "snippet");
  text.append(segmentsNode(explanation && explanation.segments.text, hit.text));
  item.append(text);
  if (explanation) item.append(termBars(explanation));
  return item;
}

function sideNode(hit, mainRanks) {
  const item = el("li", "side-hit");
  item.dataset.docid = hit.docid;
  item.append(el("span", "rank", "#" + hit.rank), el("span", "title", hit.title || hit.docid),
    el("span", "score", score(hit.score)));
  const main = mainRanks.get(hit.docid);
  item.append(el("span", "other-rank", main ? "#" + main + " here" : "new"));
  return item;
}

async function explainAll(index, query, hits) {
  const asks = hits.map((hit) =>
    api("/api/explain", { index, query, docid: hit.docid }).catch(() => null));
  return Promise.all(asks);
}

async function runSearch(event) {
  if (event) event.preventDefault();
  const query = $("query").value;
  const info = chosenIndex();
  if (!query.trim() || !info) return;
  const mode = document.querySelector("input[name=mode]:checked").value;
  const sideMode = mode === "bm25" ? "sparse" : (info.modes.includes("bm25") ? "bm25" : null);
  status("Searching…");
  const started = performance.now();
  try {
    const [main, side] = await Promise.all([
      api("/api/search", { index: info.name, query, k: K, mode }),
      sideMode ? api("/api/search", { index: info.name, query, k: K, mode: sideMode }) : null,
    ]);
    const elapsed = performance.now() - started;
    const explanations = mode === "bm25" ? main.hits.map(() => null)
      : await explainAll(info.name, query, main.hits);
    const mainRanks = new Map(main.hits.map((hit) => [hit.docid, hit.rank]));
    const sideRanks = new Map(side ? side.hits.map((hit) => [hit.docid, hit.rank]) : []);
    $("main-title").textContent = NAMES[mode];
    $("hits").replaceChildren(...main.hits.map((hit, i) =>
      hitNode(hit, explanations[i], sideRanks, NAMES[sideMode] || "BM25")));
    if (!main.hits.length) $("hits").append(el("li", "empty", "No document matches this query."));
    $("side-title").textContent = sideMode ? NAMES[sideMode] : "BM25 (not built for this index)";
    $("side-hits").replaceChildren(...(side ? side.hits.map((hit) => sideNode(hit, mainRanks)) : []));
    status(main.hits.length + " hits in " + elapsed.toFixed(0) + " ms.");
  } catch (err) {
    status(err.message, true);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("search-form").addEventListener("submit", runSearch);
  $("index").addEventListener("change", updateModes);
  $("key-save").addEventListener("click", () => {
    sessionStorage.setItem("splade-lite-key", $("api-key").value);
    $("key-box").hidden = true;
    loadIndexes();
  });
  loadIndexes();
});
