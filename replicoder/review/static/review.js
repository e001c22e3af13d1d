// Keyboard-first review and adjudication. Every change is saved as a draft at once;
// Enter records the decision. Text is only ever set through textContent (never HTML).
"use strict";
(function () {
  const state = JSON.parse(document.getElementById("state").textContent);
  const items = state.items;
  const $ = (id) => document.getElementById(id);
  const list = $("labels"), status = $("status"), search = $("search");
  const input = $("search-input"), results = $("results");
  let unclear = state.unclear, busy = false, hits = [], hit = 0;

  // time spent counts only while the page is visible (an idle background tab adds nothing)
  let spent = state.seconds, shownAt = document.hidden ? null : performance.now();
  document.addEventListener("visibilitychange", () => {
    if (document.hidden && shownAt !== null) {
      spent += (performance.now() - shownAt) / 1000;
      shownAt = null;
    } else if (!document.hidden && shownAt === null) {
      shownAt = performance.now();
    }
  });
  const seconds = () => spent + (shownAt === null ? 0 : (performance.now() - shownAt) / 1000);
  const keyOf = (i) => (i < 9 ? String(i + 1) : i === 9 ? "0" : "");
  const scale = state.intensities || [];  // graded codebook: values are "code:intensity"
  const baseOf = (value) => (scale.length ? value.slice(0, value.lastIndexOf(":")) : value);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function render() {
    list.replaceChildren();
    items.forEach((it, i) => {
      const li = el("li", "label" + (it.on ? "" : " off") + (it.added ? " added" : ""));
      li.dataset.code = it.code;
      li.appendChild(el("kbd", "key", keyOf(i)));
      li.appendChild(el("span", "code", baseOf(it.code)));
      li.appendChild(el("span", "name", it.name));
      const who = el("span", "who");
      if (it.added) who.appendChild(el("span", "chip mine", "added"));
      it.sources.forEach((s) => who.appendChild(el("span", "chip", s)));
      if (scale.length && it.level) who.appendChild(levelSelect(i, it));
      li.appendChild(who);
      const words = state.mode === "adjudicate" ? ["final", "not chosen"] : ["kept", "rejected"];
      li.appendChild(el("span", "verdict", it.on ? words[0] : words[1]));
      li.addEventListener("click", () => toggle(i));
      list.appendChild(li);
    });
    if (!items.length) list.appendChild(el("li", "empty", "No labels yet: press a to add one."));
    $("unclear").hidden = !unclear;
  }

  // Changing a proposed label's intensity rejects the proposed value and adds the new one;
  // an added label (or any label when adjudicating) just changes its value.
  function levelSelect(i, it) {
    const select = el("select", "level");
    select.setAttribute("aria-label", "intensity of " + it.name);
    scale.forEach((level) => {
      const opt = el("option", "", level);
      opt.value = level;
      opt.selected = level === it.level;
      select.appendChild(opt);
    });
    select.addEventListener("click", (ev) => ev.stopPropagation());
    select.addEventListener("change", () => setLevel(i, select.value));
    return select;
  }

  function setLevel(i, level) {
    const it = items[i], value = baseOf(it.code) + ":" + level;
    const same = items.findIndex((x) => x.code === value);
    if (it.added || state.mode === "adjudicate") {
      if (same >= 0 && same !== i) { items[same].on = true; items.splice(i, 1); }
      else { it.code = value; it.level = level; it.on = true; }
    } else {
      it.on = false;
      if (same >= 0) items[same].on = true;
      else items.push({ code: value, name: it.name, sources: [], on: true, added: true,
                        level: level });
    }
    items.forEach((x) => {  // one intensity per label: other added values of it go
      if (x.added && x.code !== value && baseOf(x.code) === baseOf(value)) x.on = false;
    });
    for (let k = items.length - 1; k >= 0; k--) {
      if (items[k].added && !items[k].on) items.splice(k, 1);
    }
    render();
    saveDraft();
  }

  function payload() {
    const body = { doc_id: state.doc_id, unclear: unclear };
    if (state.mode === "adjudicate") {
      body.labels = items.filter((it) => it.on).map((it) => it.code);
    } else {
      body.rejected = items.filter((it) => !it.added && !it.on).map((it) => it.code);
      body.added = items.filter((it) => it.added && it.on).map((it) => it.code);
      body.seconds = seconds();
    }
    return body;
  }

  async function post(path, body, keepalive) {
    const resp = await fetch(state.api + path, {
      method: "POST", keepalive: !!keepalive, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Replicoder": "1" },
      body: JSON.stringify(body),
    });
    const data = await resp.json().catch(() => ({ error: "HTTP " + resp.status }));
    if (!resp.ok) throw new Error(data.error || "HTTP " + resp.status);
    return data;
  }

  function say(text, bad) {
    status.textContent = text;
    status.className = "status" + (bad ? " bad" : "");
  }

  async function saveDraft() {
    if (state.mode !== "review") return;
    try {
      await post("/draft", payload());
      say("draft saved");
    } catch (e) {
      say("not saved: " + e.message, true);
    }
  }

  function only(index) {
    items.forEach((it, i) => { it.on = i === index; });
    for (let i = items.length - 1; i >= 0; i--) {
      if (items[i].added && !items[i].on) items.splice(i, 1);
    }
  }

  function toggle(i) {
    const it = items[i];
    if (!it) return;
    if (it.added && it.on && state.mode === "review") {
      items.splice(i, 1);
    } else if (!it.on && !state.multi_label) {
      only(i);
    } else {
      it.on = !it.on;
    }
    render();
    saveDraft();
  }

  function add(base) {
    const lab = state.codebook.find((l) => l.code === base);
    const code = scale.length ? base + ":" + scale[0] : base;
    let i = items.findIndex((it) => it.code === code);
    if (i < 0) {
      items.push({ code: code, name: lab ? lab.name : code, sources: [], on: true,
                   added: state.mode === "review", level: scale.length ? scale[0] : null });
      i = items.length - 1;
    }
    if (!state.multi_label) only(i); else items[i].on = true;
    closeSearch();
    render();
    saveDraft();
  }

  function openSearch() {
    search.hidden = false;
    input.value = "";
    filter();
    input.focus();
  }

  function closeSearch() {
    search.hidden = true;
    input.blur();
  }

  function rank(l, q, words) {
    const code = l.code.toLowerCase(), name = l.name.toLowerCase();
    const all = code + " " + name + " " + l.description.toLowerCase();
    if (!q) return 3;
    if (code === q) return 0;
    if (!words.every((w) => all.includes(w))) return -1;
    if (code.startsWith(q)) return 1;
    return words.every((w) => name.includes(w)) ? 2 : 3;
  }

  function filter() {
    const q = input.value.trim().toLowerCase();
    const words = q.split(/\s+/).filter(Boolean);
    hits = state.codebook.map((l, i) => [rank(l, q, words), i, l])
      .filter((x) => x[0] >= 0).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[2]);
    hit = 0;
    results.replaceChildren();
    hits.forEach((l, i) => {
      const li = el("li", i === hit ? "hit" : "");
      li.appendChild(el("span", "code", l.code));
      li.appendChild(el("span", "name", l.name));
      li.appendChild(el("span", "desc", l.description));
      li.addEventListener("click", () => add(l.code));
      results.appendChild(li);
    });
  }

  function moveHit(step) {
    if (!hits.length) return;
    hit = (hit + step + hits.length) % hits.length;
    Array.from(results.children).forEach((li, i) => { li.className = i === hit ? "hit" : ""; });
    results.children[hit].scrollIntoView({ block: "nearest" });
  }

  async function save() {
    if (busy) return;
    busy = true;
    say("saving…");
    try {
      const data = await post(state.mode === "adjudicate" ? "/adjudicate" : "/decide", payload());
      say("saved");
      window.location.assign(data.next);
    } catch (e) {
      say("not saved: " + e.message, true);
      busy = false;
    }
  }

  function back() {
    if (state.previous) window.location.assign(state.previous);
    else say("this is the first document");
  }

  function flag() {
    unclear = !unclear;
    render();
    saveDraft();
  }

  input.addEventListener("input", filter);
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { closeSearch(); ev.preventDefault(); }
    else if (ev.key === "ArrowDown") { moveHit(1); ev.preventDefault(); }
    else if (ev.key === "ArrowUp") { moveHit(-1); ev.preventDefault(); }
    else if (ev.key === "Enter") { if (hits[hit]) add(hits[hit].code); ev.preventDefault(); }
    ev.stopPropagation();
  });
  search.addEventListener("click", (ev) => { if (ev.target === search) closeSearch(); });

  document.addEventListener("keydown", (ev) => {
    if (!search.hidden || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.target instanceof HTMLInputElement) return;
    if (/^[0-9]$/.test(ev.key)) toggle(ev.key === "0" ? 9 : Number(ev.key) - 1);
    else if (ev.key === "a") openSearch();
    else if (ev.key === "u") flag();
    else if (ev.key === "Enter") save();
    else if (ev.key === "Backspace") back();
    else return;
    ev.preventDefault();
  });
  $("btn-add").addEventListener("click", openSearch);
  $("btn-unclear").addEventListener("click", flag);
  $("btn-back").addEventListener("click", back);
  $("btn-save").addEventListener("click", save);
  window.addEventListener("pagehide", () => {
    if (state.mode === "review" && !busy) post("/draft", payload(), true).catch(() => {});
  });
  render();
})();
